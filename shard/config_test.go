package shard

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := DefaultConfig()
	ok.Name, ok.URL = "a", "redis://127.0.0.1:6379"
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(valid) = %v", err)
	}
	if err := DefaultLocalConfig(); err.Validate() == nil {
		t.Error("Validate() without Name and URL = nil")
	}
	tests := []struct {
		name   string
		change func(*Config)
		field  string
	}{
		{"no name", func(c *Config) { c.Name = "" }, "Name"},
		{"no url", func(c *Config) { c.URL = "" }, "URL"},
		{"bad scheme", func(c *Config) { c.URL = "http://x" }, "URL"},
		{"master_set option", func(c *Config) { c.URL = "redis://h:1?master_set=m" }, "URL"},
		{"bad sentinel", func(c *Config) { c.URL = "redis-sentinel://h:1" }, "URL"},
		{"zero health", func(c *Config) { c.HealthInterval = 0 }, "HealthInterval"},
		{"negative dial", func(c *Config) { c.DialTimeout = -time.Second }, "DialTimeout"},
		{"zero write", func(c *Config) { c.WriteTimeout = 0 }, "WriteTimeout"},
		{"zero health timeout", func(c *Config) { c.HealthTimeout = 0 }, "HealthTimeout"},
		{"zero resubscribe", func(c *Config) { c.ResubscribeDelay = 0 }, "ResubscribeDelay"},
		{"zero sentinel refresh", func(c *Config) { c.SentinelRefresh = 0 }, "SentinelRefresh"},
	}
	for _, tt := range tests {
		c := ok
		tt.change(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s: Validate() = %v, want an error naming %s", tt.name, err, tt.field)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New(Config{}) = nil error")
	}
}

func TestClientOption(t *testing.T) {
	t.Parallel()
	type view struct {
		Addrs                []string
		User, Pass           string
		DB                   int
		Master               string
		SentUser, SentPass   string
		Refresh, Dial, Write time.Duration
		TLS                  bool
	}
	tests := []struct {
		url  string
		want view
	}{
		{"redis://127.0.0.1:7000", view{Addrs: []string{"127.0.0.1:7000"}}},
		{"redis://:secret@h/3", view{Addrs: []string{"h:6379"}, Pass: "secret", DB: 3}},
		{"rediss://u:p@h:1?dial_timeout=3s", view{Addrs: []string{"h:1"}, User: "u", Pass: "p", Dial: 3 * time.Second, TLS: true}},
		{"redis-sentinel://s1:26380,s2,[::1]:26381/mymaster", view{
			Addrs: []string{"s1:26380", "s2:26379", "[::1]:26381"}, Master: "mymaster", Refresh: 5 * time.Second}},
		{"redis-sentinel://:pw@s1/m/2?sentinel_password=sp&sentinel_user=su&write_timeout=2s", view{
			Addrs: []string{"s1:26379"}, Pass: "pw", DB: 2, Master: "m", SentUser: "su", SentPass: "sp",
			Refresh: 5 * time.Second, Write: 2 * time.Second}},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		cfg.Name, cfg.URL = "a", tt.url
		opt, err := clientOption(cfg)
		if err != nil {
			t.Errorf("clientOption(%q): %v", tt.url, err)
			continue
		}
		if !opt.DisableCache || !opt.AlwaysRESP2 || !opt.DisableRetry {
			t.Errorf("clientOption(%q): DisableCache, AlwaysRESP2, DisableRetry = %v %v %v; want true",
				tt.url, opt.DisableCache, opt.AlwaysRESP2, opt.DisableRetry)
		}
		want := tt.want
		if want.Dial == 0 {
			want.Dial = cfg.DialTimeout
		}
		if want.Write == 0 {
			want.Write = cfg.WriteTimeout
		}
		got := view{
			Addrs: opt.InitAddress, User: opt.Username, Pass: opt.Password, DB: opt.SelectDB,
			Master: opt.Sentinel.MasterSet, SentUser: opt.Sentinel.Username, SentPass: opt.Sentinel.Password,
			Refresh: opt.Sentinel.TopologyRefreshInterval, Dial: opt.Dialer.Timeout, Write: opt.ConnWriteTimeout,
			TLS: opt.TLSConfig != nil,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("clientOption(%q) (-want +got):\n%s", tt.url, diff)
		}
	}
	for _, bad := range []string{
		"redis-sentinel://",
		"redis-sentinel:///m",
		"redis-sentinel://h/",
		"redis-sentinel://h,,i/m",
		"redis-sentinel://h:x/m",
		"redis-sentinel://h/m/x",
		"redis-sentinel://h/m?nope=1",
		"redis-sentinel://h/m?dial_timeout=soon",
	} {
		cfg := DefaultConfig()
		cfg.Name, cfg.URL = "a", bad
		if _, err := clientOption(cfg); err == nil {
			t.Errorf("clientOption(%q) = nil error", bad)
		}
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"redis://h:1":                                  "redis://h:1",
		"redis://:secret@h:1/2":                        "redis://:xxxxx@h:1/2",
		"redis://user:secret@h:1":                      "redis://user:xxxxx@h:1",
		"redis://user@h:1":                             "redis://user@h:1",
		"redis-sentinel://:p@a,b/m":                    "redis-sentinel://:xxxxx@a,b/m",
		"redis-sentinel://a/m?sentinel_password=p&x=1": "redis-sentinel://a/m?sentinel_password=xxxxx&x=1",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseScriptError(t *testing.T) {
	t.Parallel()
	sha := strings.Repeat("ab", 20)
	tests := []struct{ text, msg string }{
		// Redis 7.
		{`ERR user_script:12: Put(): Arg "jid" missing script: ` + sha + `, on @user_script:12.`, `Put(): Arg "jid" missing`},
		{`ERR user_script:1: assertion failed! script: ` + sha + `, on @user_script:1.`, `assertion failed!`},
		// Redis 3-6, explicit error and library error.
		{`ERR Error running script (call to f_` + sha + `): @user_script:4: user_script:4: Unknown command foo `, `Unknown command foo`},
		{`ERR Error running script (call to f_` + sha + `): @user_script:9: assertion failed! `, `assertion failed!`},
		// No script wrapping.
		{`ERR Wrong number of args calling Redis command from script script: ` + sha + `, on @user_script:3.`, `Wrong number of args calling Redis command from script`},
		{`WRONGTYPE Operation against a key holding the wrong kind of value`, `WRONGTYPE Operation against a key holding the wrong kind of value`},
		{`ERR unknown command 'X'`, `unknown command 'X'`},
	}
	for _, tt := range tests {
		got := parseScriptError(tt.text)
		if got.Text != tt.text || got.Message != tt.msg {
			t.Errorf("parseScriptError(%q) = {%q, %q}, want message %q", tt.text, got.Text, got.Message, tt.msg)
		}
	}
}

func TestFullErrorText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"user_script:1: x":            "ERR user_script:1: x",
		"Error running script":        "ERR Error running script",
		"NOSCRIPT No matching script": "NOSCRIPT No matching script",
		"READONLY You can't write":    "READONLY You can't write",
		"X y":                         "ERR X y",
		"":                            "ERR ",
	} {
		if got := fullErrorText(in); got != want {
			t.Errorf("fullErrorText(%q) = %q, want %q", in, got, want)
		}
	}
}

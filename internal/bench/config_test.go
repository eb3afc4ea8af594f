package bench

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	good := func() Config {
		c := DefaultConfig()
		c.Targets = []Target{{Name: "direct", Addr: "127.0.0.1:6379", RedisAddrs: []string{"127.0.0.1:6379"}}}
		return c
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("Validate(default with a target) = %v, want nil", err)
	}
	local := DefaultLocalConfig()
	local.Targets = good().Targets
	if err := local.Validate(); err != nil {
		t.Fatalf("Validate(local preset) = %v, want nil", err)
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"no targets", func(c *Config) { c.Targets = nil }, "Targets"},
		{"no name", func(c *Config) { c.Targets[0].Name = "" }, "Targets[0].Name"},
		{"dup name", func(c *Config) { c.Targets = append(c.Targets, c.Targets[0]) }, "Targets[1].Name"},
		{"no addr", func(c *Config) { c.Targets[0].Addr = "" }, "Targets[0].Addr"},
		{"empty redis addr", func(c *Config) { c.Targets[0].RedisAddrs = []string{""} }, "RedisAddrs[0]"},
		{"no script", func(c *Config) { c.Script = "" }, "Script"},
		{"no clients", func(c *Config) { c.Clients = nil }, "Clients"},
		{"zero clients", func(c *Config) { c.Clients = []int{1, 0} }, "Clients[1]"},
		{"zero jobs", func(c *Config) { c.Jobs = 0 }, "Jobs"},
		{"zero duration", func(c *Config) { c.MaxDuration = 0 }, "MaxDuration"},
		{"zero queues", func(c *Config) { c.Queues = 0 }, "Queues"},
		{"no phases", func(c *Config) { c.Phases = nil }, "Phases"},
		{"bad phase", func(c *Config) { c.Phases = []string{"put", "pop"} }, "Phases[1]"},
		{"negative connections", func(c *Config) { c.Connections = -1 }, "Connections"},
	}
	for _, tt := range tests {
		c := good()
		tt.mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate() = %v, want an error naming %s", tt.name, err, tt.want)
		}
	}
}

package ring

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // canonical String of the result
	}{
		{"3:a=1,b=1,c=2", "3:a=1,b=1,c=2"},
		{"3:c=2,a=1,b=1", "3:a=1,b=1,c=2"},
		{"3:a,b,c=2", "3:a=1,b=1,c=2"},
		{"0:only", "0:only=1"},
		{"007:a=01", "7:a=1"},
		{"18446744073709551615:x.y_z-0=1000000", "18446744073709551615:x.y_z-0=1000000"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			r, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := r.String(); got != tt.want {
				t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			again, err := Parse(r.String())
			if err != nil || !again.Equal(r) {
				t.Errorf("Parse(%q) = %v, %v; want a ring equal to %v", r.String(), again, err, r)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // substring of the error
	}{
		{"", "missing ':'"},
		{"a=1,b=1", "missing ':'"},
		{":a=1", "epoch: invalid syntax"},
		{"-1:a=1", "epoch: invalid syntax"},
		{"+1:a=1", "epoch: invalid syntax"},
		{"0x1:a=1", "epoch: invalid syntax"},
		{"18446744073709551616:a=1", "epoch: value out of range"},
		{"1:", "no shards"},
		{"1:a=1,", "shard 1: shard name is empty"},
		{"1:,a=1", "shard 0: shard name is empty"},
		{"1:=2", "shard name is empty"},
		{"1:a=", `shard "a": weight: invalid syntax`},
		{"1:a=x", "weight: invalid syntax"},
		{"1:a=-1", "weight: invalid syntax"},
		{"1:a=0", "weight 0 is outside"},
		{"1:a=1000001", "weight 1000001 is outside"},
		{"1:a=99999999999", "weight: value out of range"},
		{"1:a=1=2", "weight: invalid syntax"},
		{"1: a=1", `has a byte ' '`},
		{"1:a:b=1", `has a byte ':'`},
		{"1:a=1,a=2", `shard name "a" is repeated`},
		{"1:a=1;b=1", "weight: invalid syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			r, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error containing %q", tt.in, r, tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.in, msg, tt.want)
			}
			if strings.Count(msg, "ring: ") != 1 {
				t.Errorf("Parse(%q) error = %q, want exactly one \"ring: \" prefix", tt.in, msg)
			}
		})
	}
}

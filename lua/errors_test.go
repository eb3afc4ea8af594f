package lua

import "testing"

const testSHA = "e3f6e339bbdcd943e1b03d07736a0dbfc12c2423"

func TestParseError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, text, want string
		ok               bool
	}{
		{
			name: "redis 7 explicit error",
			text: "ERR user_script:41: Unknown command nope script: " + testSHA + ", on @user_script:41.",
			want: "Unknown command nope", ok: true,
		},
		{
			name: "redis 7 without ERR (as rueidis reports it)",
			text: "user_script:12: Complete(): Job j1 does not exist script: " + testSHA + ", on @user_script:12.",
			want: "Complete(): Job j1 does not exist", ok: true,
		},
		{
			name: "redis 7 assertion",
			text: "ERR user_script:1: assertion failed! script: " + testSHA + ", on @user_script:1.",
			want: "assertion failed!", ok: true,
		},
		{
			name: "redis 7 error raised by redis inside the script",
			text: "ERR Wrong number of args calling Redis command from script script: " + testSHA + ", on @user_script:9.",
			want: "Wrong number of args calling Redis command from script", ok: true,
		},
		{
			name: "redis 7 message containing the word script",
			text: "ERR user_script:3: Put(): Arg \"data\" missing or not JSON: script: x script: " + testSHA + ", on @user_script:3.",
			want: "Put(): Arg \"data\" missing or not JSON: script: x", ok: true,
		},
		{
			name: "redis 7 error code kept",
			text: "WRONGTYPE Operation against a key holding the wrong kind of value script: " + testSHA + ", on @user_script:5.",
			want: "WRONGTYPE Operation against a key holding the wrong kind of value", ok: true,
		},
		{
			name: "redis 7 function",
			text: "ERR user_function:1713: Unknown command nope script: qless, on @user_function:1713.",
			want: "Unknown command nope", ok: true,
		},
		{
			name: "redis 7 function, error raised by redis",
			text: "ERR Wrong number of args calling Redis command from script script: qless, on @user_function:9.",
			want: "Wrong number of args calling Redis command from script", ok: true,
		},
		{
			name: "redis 6 explicit error",
			text: "ERR Error running script (call to f_" + testSHA + "): @user_script:7: user_script:7: Fail(): Job j1does not exist ",
			want: "Fail(): Job j1does not exist", ok: true,
		},
		{
			name: "redis 6 library error",
			text: "ERR Error running script (call to f_" + testSHA + "): @user_script:3: Expected value but found T_END at character 1 ",
			want: "Expected value but found T_END at character 1", ok: true,
		},
		{
			name: "redis 6 assertion without ERR",
			text: "Error running script (call to f_" + testSHA + "): @user_script:2: assertion failed! ",
			want: "assertion failed!", ok: true,
		},
		{
			name: "not a script error",
			text: "ERR unknown command 'FOO'",
			want: "ERR unknown command 'FOO'", ok: false,
		},
		{
			name: "noscript",
			text: "NOSCRIPT No matching script. Please use EVAL.",
			want: "NOSCRIPT No matching script. Please use EVAL.", ok: false,
		},
		{
			name: "bad suffix is not stripped",
			text: "ERR something script: a b, on @user_script:1.",
			want: "ERR something script: a b, on @user_script:1.", ok: false,
		},
		{
			name: "suffix without line is not stripped",
			text: "ERR something script: qless, on @user_script:x.",
			want: "ERR something script: qless, on @user_script:x.", ok: false,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, ok := ParseError(c.text)
			if got != c.want || ok != c.ok {
				t.Errorf("ParseError(%q) = %q, %v, want %q, %v", c.text, got, ok, c.want, c.ok)
			}
		})
	}
}

func TestIsNoScript(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]bool{
		"NOSCRIPT No matching script. Please use EVAL.":                           true,
		"ERR user_script:1: NOSCRIPT script: " + testSHA + ", on @user_script:1.": false,
		"ERR unknown command": false,
		"":                    false,
	} {
		if got := IsNoScript(text); got != want {
			t.Errorf("IsNoScript(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestIsNoFunction(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]bool{
		"ERR Function not found":                        true,
		"Function not found":                            true,
		"NOSCRIPT No matching script. Please use EVAL.": false,
		"ERR user_function:1: Function not found script: qless, on @user_function:1.": false,
	} {
		if got := IsNoFunction(text); got != want {
			t.Errorf("IsNoFunction(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestIsMissingJob(t *testing.T) {
	t.Parallel()
	for msg, want := range map[string]bool{
		"Complete(): Job j1 does not exist":                 true,
		"Fail(): Job j1does not exist":                      true,
		"Track(): Job does not exist":                       true,
		"Recur(): No recurring job r1":                      true,
		"Complete(): Job j1 is not currently running: done": false,
		"Job(): no jid provided":                            false,
	} {
		if got := IsMissingJob(msg); got != want {
			t.Errorf("IsMissingJob(%q) = %v, want %v", msg, got, want)
		}
	}
}

func TestIsMovingAndNotHere(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		msg             string
		moving, notHere bool
	}{
		{"Put(): Job j1 is moving", true, true},
		{"Log(): Job j1 is moving", true, true},
		{"Complete(): Job j1 is not currently running: moving", true, true},
		{"Depends(): Job j1 not in the depends state: moving", true, true},
		{"Depends(): Job j1 not in the depends state: nil", false, true},
		{"Depends(): Job j1 not in the depends state: waiting", false, false},
		{"Heartbeat(): Job j1 not currently running: waiting", false, true},
		{"Timeout(): Job j1 not running", false, true},
		{"Complete(): Job j1 does not exist", false, true},
		{"Recur(): No recurring job r1", false, true},
		{"Complete(): Job j1 has been handed out to another worker: w2", false, false},
		{`Put(): Arg "jid" missing`, false, false},
	} {
		if got := IsMoving(tc.msg); got != tc.moving {
			t.Errorf("IsMoving(%q) = %v, want %v", tc.msg, got, tc.moving)
		}
		if got := IsNotHere(tc.msg); got != tc.notHere {
			t.Errorf("IsNotHere(%q) = %v, want %v", tc.msg, got, tc.notHere)
		}
	}
}

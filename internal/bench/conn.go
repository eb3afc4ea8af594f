package bench

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// dial opens one rueidis client that keeps a single connection to addr,
// set up the way a stock qless client talks: RESP2, no client-side caching,
// no CLIENT SETINFO, no cluster discovery.
func dial(addr string) (rueidis.Client, error) {
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       []string{addr},
		DisableCache:      true,
		ForceSingleClient: true,
		AlwaysRESP2:       true,
		PipelineMultiplex: -1, // one pipelined connection
		ClientSetInfo:     rueidis.DisableClientSetInfo,
		DisableRetry:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("bench: connect %s: %w", addr, err)
	}
	return c, nil
}

// scriptConn calls the qless script over one rueidis client the way a stock
// qless client does: EVALSHA <sha> 0 <command> <now> <args...>, and on
// NOSCRIPT a SCRIPT LOAD of the text and one retry. Safe for concurrent use.
type scriptConn struct {
	client rueidis.Client
	script string
	sha    string
}

func newScriptConn(client rueidis.Client, script string) *scriptConn {
	return &scriptConn{client: client, script: script, sha: scriptSHA(script)}
}

// scriptSHA is the name EVALSHA gives script: its SHA-1 in lowercase hex.
func scriptSHA(script string) string {
	sum := sha1.Sum([]byte(script))
	return hex.EncodeToString(sum[:])
}

// call runs one qless command with the given now.
func (c *scriptConn) call(ctx context.Context, cmd, now string, args ...string) rueidis.RedisResult {
	argv := make([]string, 0, len(args)+2)
	argv = append(argv, cmd, now)
	argv = append(argv, args...)
	res := c.client.Do(ctx, c.client.B().Evalsha().Sha1(c.sha).Numkeys(0).Arg(argv...).Build())
	if rerr, ok := rueidis.IsRedisErr(res.Error()); ok && rerr.IsNoScript() {
		if err := c.load(ctx); err != nil {
			return rueidis.NewResult(rueidis.RedisMessage{}, err)
		}
		res = c.client.Do(ctx, c.client.B().Evalsha().Sha1(c.sha).Numkeys(0).Arg(argv...).Build())
	}
	return res
}

// load runs SCRIPT LOAD and checks the SHA the server names.
func (c *scriptConn) load(ctx context.Context) error {
	got, err := c.client.Do(ctx, c.client.B().ScriptLoad().Script(c.script).Build()).ToString()
	if err != nil {
		return fmt.Errorf("SCRIPT LOAD: %w", err)
	}
	if got != c.sha {
		return fmt.Errorf("SCRIPT LOAD returned %q, want %q", got, c.sha)
	}
	return nil
}

// nowArg formats t as qless clients do (Ruby Time.now.to_f): seconds since
// the epoch as a decimal with sub-second digits.
func nowArg(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', -1, 64)
}

// redisStats is what one INFO sample of a Redis server gives.
type redisStats struct {
	cpu          time.Duration // used_cpu_user + used_cpu_sys
	evalshaCalls int64         // cmdstat_evalsha + cmdstat_fcall calls
	evalshaUsec  int64         // cmdstat_evalsha + cmdstat_fcall usec
}

func (s redisStats) sub(o redisStats) redisStats {
	return redisStats{cpu: s.cpu - o.cpu, evalshaCalls: s.evalshaCalls - o.evalshaCalls, evalshaUsec: s.evalshaUsec - o.evalshaUsec}
}

func (s redisStats) add(o redisStats) redisStats {
	return redisStats{cpu: s.cpu + o.cpu, evalshaCalls: s.evalshaCalls + o.evalshaCalls, evalshaUsec: s.evalshaUsec + o.evalshaUsec}
}

// sampleRedis reads INFO cpu and INFO commandstats from one server.
func sampleRedis(ctx context.Context, c rueidis.Client) (redisStats, error) {
	var st redisStats
	cpu, err := c.Do(ctx, c.B().Info().Section("cpu").Build()).ToString()
	if err != nil {
		return st, fmt.Errorf("INFO cpu: %w", err)
	}
	cmds, err := c.Do(ctx, c.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		return st, fmt.Errorf("INFO commandstats: %w", err)
	}
	return parseInfo(cpu + "\n" + cmds)
}

// parseInfo extracts redisStats from INFO text.
func parseInfo(text string) (redisStats, error) {
	var st redisStats
	var sawUser, sawSys bool
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch key {
		case "used_cpu_user", "used_cpu_sys":
			f, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return st, fmt.Errorf("INFO %s: %w", key, err)
			}
			st.cpu += time.Duration(f * 1e9)
			if key == "used_cpu_user" {
				sawUser = true
			} else {
				sawSys = true
			}
		case "cmdstat_evalsha", "cmdstat_fcall":
			// (a router may call the script as a function: both count)
			for _, kv := range strings.Split(val, ",") {
				k, v, _ := strings.Cut(kv, "=")
				n, _ := strconv.ParseInt(v, 10, 64)
				switch k {
				case "calls":
					st.evalshaCalls += n
				case "usec":
					st.evalshaUsec += n
				}
			}
		}
	}
	if !sawUser || !sawSys {
		return st, fmt.Errorf("INFO cpu: no used_cpu_user/used_cpu_sys")
	}
	return st, nil
}

//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/redis/rueidis"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// clusterConfig describes the cluster a test starts.
type clusterConfig struct {
	RouterImage, RedisImage string
	Shards, Routers         int
	// Replicated gives each shard a replica and the cluster a Sentinel
	// watching every shard (its master set named after the shard); the
	// routers reach the shards through the Sentinel and acknowledge a write
	// only once the replica has it (--wait-replicas 1).
	Replicated bool
	// Ready bounds each wait for a container to serve after a (re)start.
	Ready time.Duration
}

// sentinelPort is the Sentinel's port in its container.
const sentinelPort = 26379

// waitReplicas is the routers' --wait-replicas with replicated shards:
// QLESS_CHAOS_WAIT_REPLICAS=0 shows what a failover loses without it.
var waitReplicas = envOr("QLESS_CHAOS_WAIT_REPLICAS", "1")

// node is one container of the cluster: a shard or a router.
type node struct {
	Name string // shard-1, router-2: container name suffix and network alias
	IP   string // fixed address on the cluster's network, kept across restarts
	// Port is the host port (on 127.0.0.1) of its RESP side (6379 for a
	// shard, 6380 for a router); HTTP is a router's dashboard port.
	Port, HTTP int
	ctr        *testcontainers.DockerContainer
	shard      bool // a redis-server (a shard's primary, or its replica)
	sentinel   bool
	// primary is the shard a replica replicates at first (nil for others).
	primary *node
}

// Addr is the host-side RESP address of the node.
func (n *node) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.Port)) }

// cluster is a qless-router cluster in containers on a network of its own:
// shards run redis-server (AOF, appendfsync always) and keep their data on
// the container's volume across kills; every node has a fixed address and
// fixed host ports, so a restarted node is where it was.
type cluster struct {
	cfg     clusterConfig
	net     *testcontainers.DockerNetwork
	docker  *testcontainers.DockerClient
	Shards  []*node
	Routers []*node
	// With clusterConfig.Replicated: Replicas[i] replicates Shards[i] at
	// first (Sentinel may swap their roles), and Sentinel watches them.
	Replicas []*node
	Sentinel *node
}

// startCluster creates the network and starts every shard, then every
// router, and waits until the routers see each other. Everything is removed
// by t.Cleanup (Ryuk is disabled).
func startCluster(ctx context.Context, t *testing.T, cfg clusterConfig) *cluster {
	t.Helper()
	dc, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatalf("docker: %v", err)
	}
	t.Cleanup(func() { dc.Close() })
	for _, img := range []string{cfg.RouterImage, cfg.RedisImage} {
		if _, err := dc.ImageInspect(ctx, img); err != nil {
			t.Fatalf("image %s: %v (build it with `make images`)", img, err)
		}
	}
	c := &cluster{cfg: cfg, docker: dc}
	prefix := c.createNetwork(ctx, t)
	ports := freePorts(t, 2*cfg.Shards+2*cfg.Routers+1)
	for i := range cfg.Shards {
		c.Shards = append(c.Shards, &node{Name: "shard-" + strconv.Itoa(i+1), IP: fmt.Sprintf("%s.%d", prefix, 11+i), Port: ports[i], shard: true})
	}
	for i := range cfg.Routers {
		c.Routers = append(c.Routers, &node{Name: "router-" + strconv.Itoa(i+1), IP: fmt.Sprintf("%s.%d", prefix, 21+i),
			Port: ports[cfg.Shards+2*i], HTTP: ports[cfg.Shards+2*i+1]})
	}
	if cfg.Replicated {
		base := cfg.Shards + 2*cfg.Routers
		for i, p := range c.Shards {
			c.Replicas = append(c.Replicas, &node{Name: p.Name + "-replica", IP: fmt.Sprintf("%s.%d", prefix, 31+i),
				Port: ports[base+i], shard: true, primary: p})
		}
		c.Sentinel = &node{Name: "sentinel", IP: prefix + ".41", Port: ports[base+cfg.Shards], sentinel: true}
	}
	for _, n := range append(slices.Clone(c.Shards), c.Replicas...) {
		c.run(ctx, t, n, c.redisRequest(n))
	}
	if c.Sentinel != nil {
		c.run(ctx, t, c.Sentinel, c.sentinelRequest())
		if err := c.waitReplicasKnown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range c.Routers {
		c.run(ctx, t, n, c.routerRequest(n))
	}
	for _, n := range c.all() {
		if err := c.waitReady(ctx, n); err != nil {
			t.Fatalf("%v\n%s", err, c.Logs(ctx, n, 40))
		}
	}
	return c
}

// createNetwork makes a bridge network with a /24 of its own, trying a few
// random ones in case one overlaps a network that exists. It returns the
// first three octets.
func (c *cluster) createNetwork(ctx context.Context, t *testing.T) string {
	t.Helper()
	var lastErr error
	for range 8 {
		prefix := fmt.Sprintf("10.%d.%d", 200+rand.IntN(50), rand.IntN(256))
		sub := netip.MustParsePrefix(prefix + ".0/24")
		nw, err := tcnetwork.New(ctx, tcnetwork.WithIPAM(&network.IPAM{Config: []network.IPAMConfig{{Subnet: sub}}}))
		if err != nil {
			lastErr = err
			continue
		}
		c.net = nw
		t.Cleanup(func() {
			if err := nw.Remove(context.Background()); err != nil {
				t.Logf("remove network %s: %v", nw.Name, err)
			}
		})
		return prefix
	}
	t.Fatalf("create a network: %v", lastErr)
	return ""
}

func (c *cluster) redisRequest(n *node) testcontainers.ContainerRequest {
	req := testcontainers.ContainerRequest{
		Image:        c.cfg.RedisImage,
		ExposedPorts: []string{"6379/tcp"},
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.PortBindings = loopbackBinding("6379/tcp", n.Port)
		},
	}
	if c.cfg.Replicated {
		// Any of them may become a primary: no delay before a full sync.
		req.Cmd = []string{"/etc/redis/redis.conf", "--repl-diskless-sync-delay", "0"}
		if n.primary != nil {
			req.Cmd = append(req.Cmd, "--replicaof", n.primary.IP, "6379")
		}
	}
	return req
}

// sentinelRequest runs the Sentinel watching every shard: quorum 1, a
// primary silent for a second is failed over.
func (c *cluster) sentinelRequest() testcontainers.ContainerRequest {
	conf := fmt.Sprintf("port %d\nbind 0.0.0.0\nprotected-mode no\ndir /data\n", sentinelPort)
	for i, p := range c.Shards {
		conf += fmt.Sprintf("sentinel monitor %[1]s %[2]s 6379 1\n"+
			"sentinel down-after-milliseconds %[1]s 1000\n"+
			"sentinel failover-timeout %[1]s 5000\n"+
			"sentinel known-replica %[1]s %[3]s 6379\n", p.Name, p.IP, c.Replicas[i].IP)
	}
	port := strconv.Itoa(sentinelPort) + "/tcp"
	return testcontainers.ContainerRequest{
		Image:        c.cfg.RedisImage,
		Cmd:          []string{"/etc/redis/sentinel.conf", "--sentinel"},
		ExposedPorts: []string{port},
		Files: []testcontainers.ContainerFile{{
			Reader: strings.NewReader(conf), ContainerFilePath: "/etc/redis/sentinel.conf", FileMode: 0o644,
		}},
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.PortBindings = loopbackBinding(port, c.Sentinel.Port)
		},
	}
}

// waitReplicasKnown waits until every replica has synced and the Sentinel
// knows it (it can fail over only to a replica it knows).
func (c *cluster) waitReplicasKnown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Ready)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		last = nil
		for i, p := range c.Shards {
			n, err := c.sentinelReplicas(ctx, p.Name)
			if err == nil && n == 0 {
				err = fmt.Errorf("sentinel knows no replica of %s", p.Name)
			}
			if err == nil {
				err = linkUp(ctx, c.Replicas[i])
			}
			if err != nil {
				last = err
				break
			}
		}
		if last == nil {
			return nil
		}
		_ = sleepCtx(ctx, 200*time.Millisecond)
	}
	return fmt.Errorf("sentinel: %v", last)
}

// linkUp reports whether replica n has synced with its primary.
func linkUp(ctx context.Context, n *node) error {
	rc, err := dial(n.Addr())
	if err != nil {
		return err
	}
	defer rc.Close()
	info, err := rc.Do(ctx, rc.B().Info().Section("replication").Build()).ToString()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "master_link_status:up") {
		return fmt.Errorf("%s has not synced with its primary", n.Name)
	}
	return nil
}

func (c *cluster) sentinelReplicas(ctx context.Context, name string) (int, error) {
	rc, err := dial(c.Sentinel.Addr())
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	rows, err := rc.Do(ctx, rc.B().Arbitrary("SENTINEL", "REPLICAS", name).Build()).ToArray()
	return len(rows), err
}

// Primary returns the node that is shard name's primary now: the shard
// node itself without replicas, else the one the Sentinel names.
func (c *cluster) Primary(ctx context.Context, name string) (*node, error) {
	if c.Sentinel == nil {
		return c.Shard(name), nil
	}
	rc, err := dial(c.Sentinel.Addr())
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	addr, err := rc.Do(ctx, rc.B().Arbitrary("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name).Build()).AsStrSlice()
	if err != nil || len(addr) != 2 {
		return nil, fmt.Errorf("sentinel: primary of %s: %v %v", name, addr, err)
	}
	for _, n := range append(slices.Clone(c.Shards), c.Replicas...) {
		if n.IP == addr[0] {
			return n, nil
		}
	}
	return nil, fmt.Errorf("sentinel names %v as the primary of %s: not a node of the cluster", addr, name)
}

func (c *cluster) routerRequest(n *node) testcontainers.ContainerRequest {
	cmd := []string{"serve", "--node-name=" + n.Name, "--gossip-addr=" + n.IP + ":7946",
		"--resp-addr=:6380", "--http-addr=:8080", "--log-level=info"}
	for _, o := range c.Routers {
		if o != n {
			cmd = append(cmd, "--join="+o.IP+":7946")
		}
	}
	for _, s := range c.Shards {
		if c.Sentinel != nil {
			cmd = append(cmd, "--shard="+s.Name+"=redis-sentinel://"+c.Sentinel.IP+":"+strconv.Itoa(sentinelPort)+"/"+s.Name)
		} else {
			cmd = append(cmd, "--shard="+s.Name+"=redis://"+s.Name+":6379")
		}
	}
	if c.Sentinel != nil {
		cmd = append(cmd, "--wait-replicas="+waitReplicas, "--wait-timeout=2s")
	}
	return testcontainers.ContainerRequest{
		Image:        c.cfg.RouterImage,
		Cmd:          cmd,
		ExposedPorts: []string{"6380/tcp", "8080/tcp"},
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.PortBindings = loopbackBinding("6380/tcp", n.Port)
			for p, b := range loopbackBinding("8080/tcp", n.HTTP) {
				hc.PortBindings[p] = b
			}
		},
	}
}

// run creates and starts n's container on the network at n's address.
func (c *cluster) run(ctx context.Context, t *testing.T, n *node, req testcontainers.ContainerRequest) {
	t.Helper()
	req.Name = c.net.Name[:8] + "-" + n.Name
	req.Networks = []string{c.net.Name}
	req.NetworkAliases = map[string][]string{c.net.Name: {n.Name}}
	ip := netip.MustParseAddr(n.IP)
	req.EndpointSettingsModifier = func(eps map[string]*network.EndpointSettings) {
		if ep := eps[c.net.Name]; ep != nil {
			ep.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: ip}
		}
	}
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	testcontainers.CleanupContainer(t, ctr, testcontainers.StopTimeout(0))
	if err != nil {
		t.Fatalf("start %s: %v", n.Name, err)
	}
	n.ctr = ctr.(*testcontainers.DockerContainer)
}

func (c *cluster) all() []*node {
	out := append(append(slices.Clone(c.Shards), c.Replicas...), c.Routers...)
	if c.Sentinel != nil {
		out = append(out, c.Sentinel)
	}
	return out
}

// Kill sends SIGKILL to n's container: no shutdown of any kind.
func (c *cluster) Kill(ctx context.Context, n *node) error {
	if _, err := c.docker.ContainerKill(ctx, n.ctr.GetContainerID(), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		return fmt.Errorf("kill %s: %w", n.Name, err)
	}
	return nil
}

// Partition cuts n off the cluster's network: its process keeps running,
// and nobody (routers, Sentinel, replicas, the test) reaches it.
func (c *cluster) Partition(ctx context.Context, n *node) error {
	if _, err := c.docker.NetworkDisconnect(ctx, c.net.ID, client.NetworkDisconnectOptions{Container: n.ctr.GetContainerID(), Force: true}); err != nil {
		return fmt.Errorf("cut %s off: %w", n.Name, err)
	}
	return nil
}

// Heal connects a partitioned n again at its address and waits until it
// serves.
func (c *cluster) Heal(ctx context.Context, n *node) error {
	ep := &network.EndpointSettings{
		IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: netip.MustParseAddr(n.IP)},
		Aliases:    []string{n.Name},
	}
	if _, err := c.docker.NetworkConnect(ctx, c.net.ID, client.NetworkConnectOptions{Container: n.ctr.GetContainerID(), EndpointConfig: ep}); err != nil {
		return fmt.Errorf("reconnect %s: %w", n.Name, err)
	}
	return c.waitReady(ctx, n)
}

// Start starts n's container again (same volume, address and ports) and
// waits until it serves.
func (c *cluster) Start(ctx context.Context, n *node) error {
	if err := n.ctr.Start(ctx); err != nil {
		return fmt.Errorf("start %s: %w", n.Name, err)
	}
	return c.waitReady(ctx, n)
}

// waitReady waits until a shard answers PING (not LOADING) or a router
// answers PING and lists every router, within clusterConfig.Ready.
func (c *cluster) waitReady(ctx context.Context, n *node) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Ready)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		last = c.ready(ctx, n)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %v: %v", n.Name, c.cfg.Ready, last)
}

func (c *cluster) ready(ctx context.Context, n *node) error {
	rc, err := dial(n.Addr())
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := rc.Do(ctx, rc.B().Ping().Build()).Error(); err != nil {
		return err
	}
	if n.shard || n.sentinel {
		return nil
	}
	rows, err := rc.Do(ctx, rc.B().Arbitrary("QLESS.ROUTERS").Build()).ToArray()
	if err != nil {
		return err
	}
	if len(rows) != len(c.Routers) {
		return fmt.Errorf("%s lists %d routers, want %d", n.Name, len(rows), len(c.Routers))
	}
	return nil
}

// Locate asks a router which shard owns queue.
func (c *cluster) Locate(ctx context.Context, queue string) (string, error) {
	var last error
	for _, r := range c.Routers {
		rc, err := dial(r.Addr())
		if err != nil {
			last = err
			continue
		}
		s, err := rc.Do(ctx, rc.B().Arbitrary("QLESS.LOCATE").Args(queue).Build()).ToString()
		rc.Close()
		if err == nil {
			return s, nil
		}
		last = err
	}
	return "", fmt.Errorf("locate %q: %w", queue, last)
}

// Shard returns the shard node of that name.
func (c *cluster) Shard(name string) *node {
	for _, s := range c.Shards {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// RouterAddrs are the host-side RESP addresses of the routers.
func (c *cluster) RouterAddrs() []string {
	out := make([]string, len(c.Routers))
	for i, r := range c.Routers {
		out[i] = r.Addr()
	}
	return out
}

// Logs returns the last lines of n's container log.
func (c *cluster) Logs(ctx context.Context, n *node, lines int) string {
	if n.ctr == nil {
		return ""
	}
	rd, err := n.ctr.Logs(ctx)
	if err != nil {
		return fmt.Sprintf("(logs of %s: %v)", n.Name, err)
	}
	defer rd.Close()
	b, _ := io.ReadAll(io.LimitReader(rd, 8<<20))
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return fmt.Sprintf("--- %s (last %d lines)\n%s", n.Name, len(all), strings.Join(all, "\n"))
}

// dial opens a plain connection (no retries, no cache) to a RESP address.
func dial(addr string) (rueidis.Client, error) {
	return rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       []string{addr},
		DisableCache:      true,
		DisableRetry:      true,
		ForceSingleClient: true,
		Dialer:            net.Dialer{Timeout: time.Second},
		ConnWriteTimeout:  2 * time.Second,
	})
}

func loopbackBinding(port string, hostPort int) network.PortMap {
	return network.PortMap{network.MustParsePort(port): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: strconv.Itoa(hostPort)}}}
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out
}

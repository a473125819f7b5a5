// go-zookeeper/zk against the ensemble in ZK_CONNECT (host:port,host:port,...).
// A client that must see another client's write (ordered by the test, out of band) calls Sync
// first: ZooKeeper guarantees a single client's view only.
package matrix

import (
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

const wait = 30 * time.Second

var acl = zk.WorldACL(zk.PermAll)

func servers(t *testing.T) []string {
	s := os.Getenv("ZK_CONNECT")
	if s == "" {
		t.Fatal("ZK_CONNECT not set")
	}
	return strings.Split(s, ",")
}

func connect(t *testing.T) *zk.Conn {
	t.Helper()
	c, events, err := zk.Connect(servers(t), 15*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(wait)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				go func() {
					for range events {
					}
				}()
				return c
			}
		case <-deadline:
			t.Fatal("no session within timeout")
		}
	}
}

func root(t *testing.T, c *zk.Conn) string {
	t.Helper()
	p := fmt.Sprintf("/matrix-go-%s-%08x", t.Name(), rand.Uint32())
	if _, err := c.Create(p, nil, 0, acl); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAll(c, p) })
	return p
}

func deleteAll(c *zk.Conn, p string) {
	kids, _, err := c.Children(p)
	if err != nil {
		return
	}
	for _, k := range kids {
		deleteAll(c, p+"/"+k)
	}
	_ = c.Delete(p, -1)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("want error %v, got %v", want, got)
	}
}

func event(t *testing.T, ch <-chan zk.Event) zk.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(wait):
		t.Fatal("no watch event within timeout")
	}
	return zk.Event{}
}

func TestCRUD(t *testing.T) {
	c := connect(t)
	r := root(t, c)
	p := r + "/node"
	got, err := c.Create(p, []byte("v0"), 0, acl)
	must(t, err)
	if got != p {
		t.Fatalf("create returned %q", got)
	}
	_, err = c.Create(p, nil, 0, acl)
	wantErr(t, err, zk.ErrNodeExists)
	_, err = c.Create(r+"/missing/child", nil, 0, acl)
	wantErr(t, err, zk.ErrNoNode)
	data, st, err := c.Get(p)
	must(t, err)
	if string(data) != "v0" || st.Version != 0 || st.DataLength != 2 {
		t.Fatalf("get: %q %+v", data, st)
	}
	st2, err := c.Set(p, []byte("v1"), 0)
	must(t, err)
	if st2.Version != 1 || st2.Czxid != st.Czxid || st2.Mzxid <= st.Mzxid {
		t.Fatalf("set stat %+v after %+v", st2, st)
	}
	_, err = c.Set(p, []byte("v2"), 0)
	wantErr(t, err, zk.ErrBadVersion)
	for _, k := range []string{"c1", "c2"} {
		_, err = c.Create(p+"/"+k, nil, 0, acl)
		must(t, err)
	}
	kids, pst, err := c.Children(p)
	must(t, err)
	sort.Strings(kids)
	if strings.Join(kids, ",") != "c1,c2" || pst.NumChildren != 2 || pst.Cversion != 2 {
		t.Fatalf("children %v %+v", kids, pst)
	}
	wantErr(t, c.Delete(p, -1), zk.ErrNotEmpty)
	wantErr(t, c.Delete(p+"/c1", 7), zk.ErrBadVersion)
	must(t, c.Delete(p+"/c1", 0))
	must(t, c.Delete(p+"/c2", -1))
	must(t, c.Delete(p, 1))
	ok, _, err := c.Exists(p)
	must(t, err)
	if ok {
		t.Fatal("exists after delete")
	}
	_, _, err = c.Get(p)
	wantErr(t, err, zk.ErrNoNode)

	// sequential and ephemeral
	_, err = c.Create(r+"/seqs", nil, 0, acl)
	must(t, err)
	s1, err := c.Create(r+"/seqs/seq-", nil, zk.FlagSequence, acl)
	must(t, err)
	s2, err := c.Create(r+"/seqs/seq-", nil, zk.FlagSequence|zk.FlagEphemeral, acl)
	must(t, err)
	if s1 != r+"/seqs/seq-0000000000" || s2 != r+"/seqs/seq-0000000001" {
		t.Fatalf("sequential names %q %q", s1, s2)
	}
	other := connect(t)
	e := r + "/eph"
	_, err = other.Create(e, nil, zk.FlagEphemeral, acl)
	must(t, err)
	_, err = c.Sync(e)
	must(t, err)
	_, est, err := c.Exists(e)
	must(t, err)
	if est == nil || est.EphemeralOwner != other.SessionID() {
		t.Fatalf("ephemeral owner %+v want %d", est, other.SessionID())
	}
	_, err = c.Create(e+"/kid", nil, 0, acl)
	wantErr(t, err, zk.ErrNoChildrenForEphemerals)
	other.Close()
	deadline := time.Now().Add(wait)
	for {
		ok, _, err := c.Exists(e)
		must(t, err)
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ephemeral survived its session")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLock(t *testing.T) {
	a, b := connect(t), connect(t)
	r := root(t, a)
	path := r + "/lock"
	la, lb := zk.NewLock(a, path, acl), zk.NewLock(b, path, acl)
	must(t, la.Lock())
	got := make(chan error, 1)
	go func() { got <- lb.Lock() }()
	select {
	case err := <-got:
		t.Fatalf("second client got a held lock: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	must(t, la.Unlock())
	select {
	case err := <-got:
		must(t, err)
	case <-time.After(wait):
		t.Fatal("second client never got the released lock")
	}
	must(t, lb.Unlock())

	// mutual exclusion under contention: 4 connections x 5 rounds
	var holders, maxHolders, total int32
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		l := zk.NewLock(connect(t), path, acl)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				if err := l.Lock(); err != nil {
					errs <- err
					return
				}
				h := atomic.AddInt32(&holders, 1)
				for {
					m := atomic.LoadInt32(&maxHolders)
					if h <= m || atomic.CompareAndSwapInt32(&maxHolders, m, h) {
						break
					}
				}
				time.Sleep(5 * time.Millisecond)
				atomic.AddInt32(&total, 1)
				atomic.AddInt32(&holders, -1)
				if err := l.Unlock(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if maxHolders != 1 || total != 20 {
		t.Fatalf("max holders %d total %d", maxHolders, total)
	}
	_, err := a.Sync(path)
	must(t, err)
	kids, _, err := a.Children(path)
	must(t, err)
	if len(kids) != 0 {
		t.Fatalf("lock nodes left: %v", kids)
	}
}

func TestWatches(t *testing.T) {
	w, writer := connect(t), connect(t)
	r := root(t, w)
	p := r + "/w"

	ok, _, ch, err := w.ExistsW(p)
	must(t, err)
	if ok {
		t.Fatal("exists")
	}
	_, err = writer.Create(p, []byte("1"), 0, acl)
	must(t, err)
	if ev := event(t, ch); ev.Type != zk.EventNodeCreated || ev.Path != p {
		t.Fatalf("ExistsW: %+v", ev)
	}

	_, _, ch, err = w.GetW(p)
	must(t, err)
	_, err = writer.Set(p, []byte("2"), -1)
	must(t, err)
	if ev := event(t, ch); ev.Type != zk.EventNodeDataChanged || ev.Path != p {
		t.Fatalf("GetW: %+v", ev)
	}

	_, _, ch, err = w.ChildrenW(p)
	must(t, err)
	_, err = writer.Create(p+"/kid", nil, 0, acl)
	must(t, err)
	if ev := event(t, ch); ev.Type != zk.EventNodeChildrenChanged || ev.Path != p {
		t.Fatalf("ChildrenW: %+v", ev)
	}

	_, _, dch, err := w.GetW(p + "/kid")
	must(t, err)
	_, _, cch, err := w.ChildrenW(p)
	must(t, err)
	must(t, writer.Delete(p+"/kid", -1))
	if ev := event(t, dch); ev.Type != zk.EventNodeDeleted {
		t.Fatalf("GetW on delete: %+v", ev)
	}
	if ev := event(t, cch); ev.Type != zk.EventNodeChildrenChanged {
		t.Fatalf("ChildrenW on delete: %+v", ev)
	}

	// ExistsW on an existing node fires on delete
	_, _, ch, err = w.ExistsW(p)
	must(t, err)
	must(t, writer.Delete(p, -1))
	if ev := event(t, ch); ev.Type != zk.EventNodeDeleted || ev.Path != p {
		t.Fatalf("ExistsW on delete: %+v", ev)
	}
}

func TestMulti(t *testing.T) {
	c := connect(t)
	r := root(t, c)
	a, b := r+"/a", r+"/b"
	res, err := c.Multi(
		&zk.CreateRequest{Path: a, Data: []byte("1"), Acl: acl},
		&zk.CreateRequest{Path: b, Data: []byte("2"), Acl: acl},
		&zk.SetDataRequest{Path: a, Data: []byte("3"), Version: 0},
		&zk.CheckVersionRequest{Path: b, Version: 0},
	)
	must(t, err)
	if len(res) != 4 || res[0].String != a || res[1].String != b || res[2].Stat == nil || res[2].Stat.Version != 1 {
		t.Fatalf("multi results %+v", res)
	}
	for i, x := range res {
		if x.Error != nil {
			t.Fatalf("op %d error %v", i, x.Error)
		}
	}
	res, err = c.Multi(
		&zk.CreateRequest{Path: r + "/c", Acl: acl},
		&zk.CheckVersionRequest{Path: a, Version: 99},
		&zk.DeleteRequest{Path: b, Version: -1},
	)
	wantErr(t, err, zk.ErrBadVersion)
	if len(res) != 3 || res[0].Error != nil || !errors.Is(res[1].Error, zk.ErrBadVersion) {
		t.Fatalf("failed multi results %+v", res)
	}
	ok, _, err := c.Exists(r + "/c")
	must(t, err)
	if ok {
		t.Fatal("failed multi was not rolled back")
	}
	_, err = c.Multi(&zk.DeleteRequest{Path: b, Version: 0}, &zk.SetDataRequest{Path: a, Data: []byte("4"), Version: 1})
	must(t, err)
	data, _, err := c.Get(a)
	must(t, err)
	if string(data) != "4" {
		t.Fatalf("data %q", data)
	}
}

func TestACL(t *testing.T) {
	c := connect(t)
	r := root(t, c)
	p := r + "/secret"
	digest := zk.DigestACL(zk.PermAll, "alice", "pw")
	_, err := c.Create(p, []byte("s"), 0, append(digest, zk.WorldACL(zk.PermRead)...))
	must(t, err)
	anon := connect(t)
	_, err = anon.Sync(p)
	must(t, err)
	data, _, err := anon.Get(p)
	must(t, err)
	if string(data) != "s" {
		t.Fatalf("data %q", data)
	}
	_, err = anon.Set(p, nil, -1)
	wantErr(t, err, zk.ErrNoAuth)
	alice := connect(t)
	must(t, alice.AddAuth("digest", []byte("alice:pw")))
	_, err = alice.Set(p, []byte("by alice"), -1)
	must(t, err)
	acls, st, err := alice.GetACL(p)
	must(t, err)
	if len(acls) != 2 || st.Aversion != 0 {
		t.Fatalf("acl %+v %+v", acls, st)
	}
	_, err = alice.SetACL(p, acl, 5)
	wantErr(t, err, zk.ErrBadVersion)
	_, err = alice.SetACL(p, acl, 0)
	must(t, err)
	_, err = anon.Set(p, []byte("open"), -1)
	must(t, err)
}

func TestTTLAndContainer(t *testing.T) {
	c := connect(t)
	r := root(t, c)
	ttl, err := c.CreateTTL(r+"/ttl", nil, zk.FlagTTL, acl, 500*time.Millisecond)
	must(t, err)
	cont, err := c.CreateContainer(r+"/cont", nil, zk.FlagContainer, acl)
	must(t, err)
	_, err = c.Create(cont+"/kid", nil, 0, acl)
	must(t, err)
	must(t, c.Delete(cont+"/kid", -1))
	deadline := time.Now().Add(wait)
	for {
		a, _, err := c.Exists(ttl)
		must(t, err)
		b, _, err := c.Exists(cont)
		must(t, err)
		if !a && !b {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not reaped: ttl %v container %v", a, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestFourLetterWords(t *testing.T) {
	ss := servers(t)
	oks := zk.FLWRuok(ss, 5*time.Second)
	for i, ok := range oks {
		if !ok {
			t.Fatalf("ruok %s", ss[i])
		}
	}
	// zk.FLWSrvr cannot parse ZooKeeper 3.5+'s srvr header ("built on 2022-02-25 08:49 UTC"; it
	// expects MM/DD/YYYY), against Apache as well, so read srvr raw here.
	modes := map[string]int{}
	for _, s := range ss {
		out, err := fourLetter(s, "srvr")
		must(t, err)
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "Mode: ") {
				modes[strings.TrimPrefix(line, "Mode: ")]++
			}
		}
	}
	if modes["leader"] != 1 || modes["follower"] != 2 {
		t.Fatalf("modes %v", modes)
	}
	// (zk.FLWCons cannot parse the 3.5+ cons lines either: skipped for the same reason.)
}

func fourLetter(server, cmd string) (string, error) {
	conn, err := net.DialTimeout("tcp", server, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(cmd)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	return string(b), err
}

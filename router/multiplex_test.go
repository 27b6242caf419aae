package router

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// modelReplica is a real HTTP replica that multiplexes models the way
// @serve.multiplexed does: it loads the model a request names (counting
// loads), keeps at most max of them (least recently used goes), and lists
// what it has loaded in every response.
type modelReplica struct {
	mu     sync.Mutex
	loaded []string // least recently used first
	loads  map[string]int
	hold   chan struct{} // when set, requests wait for it to close
}

func (m *modelReplica) serve(max int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(MultiplexedModelHeader)
		m.mu.Lock()
		hold := m.hold
		if id != "" {
			if i := slices.Index(m.loaded, id); i >= 0 {
				m.loaded = slices.Delete(m.loaded, i, i+1)
			} else {
				m.loads[id]++
				if len(m.loaded) == max {
					m.loaded = m.loaded[1:]
				}
			}
			m.loaded = append(m.loaded, id)
		}
		list := strings.Join(m.loaded, ",")
		m.mu.Unlock()
		if hold != nil {
			<-hold
		}
		w.Header().Set(LoadedModelsHeader, list)
		io.WriteString(w, "ok")
	}
}

func (m *modelReplica) loadCount(id string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.loads[id]
}

func modelRequest(t *testing.T, url, model string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/predict", strings.NewReader("x"))
	req.Header.Set(MultiplexedModelHeader, model)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if resp.Header.Get(LoadedModelsHeader) != "" {
		t.Errorf("the replica's %s reached the client", LoadedModelsHeader)
	}
}

// Three replicas, six models, two per replica: once every model is loaded
// somewhere, requests for it go where it is loaded and nothing loads again.
func TestMultiplexedRequestsGoWhereTheModelIsLoaded(t *testing.T) {
	models := []string{"m1", "m2", "m3", "m4", "m5", "m6"}
	var reps []*Replica
	var servers []*modelReplica
	for range 3 {
		m := &modelReplica{loads: map[string]int{}}
		rep, _ := upstream(t, m.serve(2))
		reps, servers = append(reps, rep), append(servers, m)
	}
	d := NewDeployment("app", "models", Settings{MaxOngoingRequests: 4, MaxQueuedRequests: -1}, nil)
	d.SetReplicas(reps)
	url := gateway(t, d, "/")

	loads := func(id string) (n int) {
		for _, m := range servers {
			n += m.loadCount(id)
		}
		return n
	}
	// m1 is loaded once, then every request for it finds it.
	modelRequest(t, url, "m1")
	for range 20 {
		modelRequest(t, url, "m1")
	}
	if n := loads("m1"); n != 1 {
		t.Errorf("m1 was loaded %d times for 21 sequential requests, want once", n)
	}
	holder := -1
	for i, r := range reps {
		if slices.Contains(r.MultiplexedModelIDs(), "m1") {
			holder = i
		}
	}
	if holder < 0 || servers[holder].loadCount("m1") != 1 {
		t.Fatalf("no replica reports m1 loaded: %v %v %v", reps[0].MultiplexedModelIDs(), reps[1].MultiplexedModelIDs(), reps[2].MultiplexedModelIDs())
	}
	// Requests for a model go to its replica whatever p2c's random pair is.
	for _, id := range models {
		modelRequest(t, url, id)
		before := loads(id)
		for range 5 {
			modelRequest(t, url, id)
		}
		if n := loads(id); n != before {
			t.Errorf("%s: loaded %d more times after it was loaded", id, n-before)
		}
	}
}

// When the replica that has the model is full, the request does not wait
// for it: it goes to another replica, which loads the model.
func TestMultiplexedModelOnAFullReplicaGoesElsewhere(t *testing.T) {
	a := &modelReplica{loads: map[string]int{}}
	b := &modelReplica{loads: map[string]int{}}
	repA, _ := upstream(t, a.serve(4))
	repB, _ := upstream(t, b.serve(4))
	d := NewDeployment("app", "models", Settings{MaxOngoingRequests: 1, MaxQueuedRequests: -1}, nil)
	d.SetReplicas([]*Replica{repA})
	url := gateway(t, d, "/")
	modelRequest(t, url, "m1") // a has m1

	hold := make(chan struct{})
	t.Cleanup(func() {
		select {
		case <-hold:
		default:
			close(hold)
		}
	})
	a.mu.Lock()
	a.hold = hold
	a.mu.Unlock()
	done := make(chan struct{})
	go func() { // fills a's one slot
		defer close(done)
		req, _ := http.NewRequest("GET", url+"/busy", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	if !testenv.Eventually(10*time.Second, func() bool { return repA.Inflight() == 1 }) {
		t.Fatal("a never got the blocking request")
	}
	d.SetReplicas([]*Replica{repA, repB})
	modelRequest(t, url, "m1")
	if b.loadCount("m1") != 1 {
		t.Errorf("m1 went to b %d times; want once, since a (which has it) was full", b.loadCount("m1"))
	}
	close(hold)
	<-done
}

package router

import (
	"net/http"
	"slices"
	"strings"
)

// Model multiplexing (Ray's @serve.multiplexed): a replica that loads
// models on demand lists the ones it has loaded in every response's
// LoadedModelsHeader; the router keeps the latest list per replica. A
// request naming a model in MultiplexedModelHeader goes to a replica that
// has it loaded and a free slot (power of two choices among those), else to
// any replica as usual — Ray's rule — so a model is loaded again only when
// no replica that has it can take the request.

// MultiplexedModelHeader is the request header naming the model a request
// is for: Ray's serve_multiplexed_model_id, sent by HTTP clients and by
// handle calls with multiplexed_model_id set.
const MultiplexedModelHeader = "serve_multiplexed_model_id"

// multiplexedModelKey is MultiplexedModelHeader as net/http stores it in
// a Header: looking it up by this key costs no canonicalization (and no
// allocation) on every request.
var multiplexedModelKey = http.CanonicalHeaderKey(MultiplexedModelHeader)

// requestedModel is the multiplexed model r is for; "" for none.
func requestedModel(r *http.Request) string {
	if v := r.Header[multiplexedModelKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// LoadedModelsHeader is the response header in which a replica lists the
// model ids it has loaded, comma separated (empty when none).
const LoadedModelsHeader = "Gantry-Multiplexed-Models"

// modelSet is a replica's loaded models as its last response listed them.
type modelSet struct {
	raw string // the header's value, to skip parsing when it did not change
	ids []string
}

// noteModels records the models a response from r says it has loaded; a
// response without the header changes nothing.
func (r *Replica) noteModels(h http.Header) {
	vs, ok := h[LoadedModelsHeader]
	if !ok {
		return
	}
	raw := strings.Join(vs, ",")
	if cur := r.models.Load(); cur != nil && cur.raw == raw {
		return
	}
	var ids []string
	for _, id := range strings.Split(raw, ",") {
		if id = strings.TrimSpace(id); id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	r.models.Store(&modelSet{raw: raw, ids: ids})
}

// hasModel reports whether r's last response listed model id as loaded.
func (r *Replica) hasModel(id string) bool {
	m := r.models.Load()
	return m != nil && slices.Contains(m.ids, id)
}

// MultiplexedModelIDs returns the model ids the replica last listed as
// loaded, in its order; nil when it never listed any.
func (r *Replica) MultiplexedModelIDs() []string {
	if m := r.models.Load(); m != nil {
		return slices.Clone(m.ids)
	}
	return nil
}

// pickModel picks, among the replicas of pool that have model loaded and
// are not in skip, one with a free slot below limit; nil when none can.
func (d *Deployment) pickModel(pool []*Replica, limit int64, skip *tried, model string) *Replica {
	var buf [16]*Replica
	loaded := buf[:0]
	for _, r := range pool {
		if r.hasModel(model) {
			loaded = append(loaded, r)
		}
	}
	return d.picker.pick(loaded, limit, skip)
}

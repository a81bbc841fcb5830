package scim

import (
	"slices"
	"sort"
	"sync"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// maxSortOrders bounds the sort orders kept in memory (each holds a key
// and an id per resource of its tenant).
const maxSortOrders = 4

// sortOrders keeps the sorted order of a tenant's resources under the
// sortSpecs clients page through unfiltered (Okta's and other importers'
// sortBy), so that pages are a slice of it, not a read and sort of the
// whole tenant. The store's change feed keeps them current: a user
// created, changed or deleted is queued on the users' orders (O(1) on the
// writer's path) and the next reader merges the queue in one pass over
// the order (O(n + k log k) for k changes, no store read); any other
// change of a tenant's records makes its group orders stale, to be
// rebuilt by one pass over the tenant. A generation per tenant, read before an order is built, tells
// whether the order missed a change.
type sortOrders struct {
	st   store.Store
	once sync.Once

	mu     sync.Mutex
	gens   map[policy.TenantID]uint64
	orders []*sortOrder
	tick   uint64 // for least-recently-used eviction
}

type sortOrder struct {
	tenant policy.TenantID
	kind   resourceKind
	spec   string
	gen    uint64
	used   uint64
	items  []sortedItem
	// less orders items; keyOf is the sort key of a user (nil for group
	// orders, which are not patched).
	less  func(a, b sortedItem) bool
	keyOf func(policy.User) sortKey
	// pending are the user changes not merged into items yet.
	pending []policy.Change
}

// get returns the ids of the page [start, start+count) of the current
// order of tenant's resources of kind under spec and the order's length;
// ok is false without a current order, and gen is the tenant's generation
// to build one with.
func (o *sortOrders) get(t policy.TenantID, kind resourceKind, spec string, start, count int) (ids []string, total int, ok bool, gen uint64) {
	o.once.Do(func() {
		// Before the first generation is read, so that no change is
		// missed; outside o.mu, since the feed calls back under the
		// store's own locks.
		o.st.Subscribe(o.changed)
	})
	o.mu.Lock()
	defer o.mu.Unlock()
	gen = o.gens[t]
	for _, so := range o.orders {
		if so.tenant == t && so.kind == kind && so.spec == spec && so.gen == gen {
			if !so.merge() {
				so.gen-- // stale: rebuilt by the caller
				continue
			}
			o.tick++
			so.used = o.tick
			return pageOf(so.items, start, count), len(so.items), true, gen
		}
	}
	return nil, 0, false, gen
}

// put keeps items as the order of generation gen, unless the tenant has
// changed since.
// put hands items over: the caller must not use them afterwards.
func (o *sortOrders) put(t policy.TenantID, kind resourceKind, spec string, gen uint64, items []sortedItem,
	less func(a, b sortedItem) bool, keyOf func(policy.User) sortKey) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.gens[t] != gen {
		return
	}
	o.tick++
	keep := o.orders[:0]
	for _, so := range o.orders {
		if so.gen == o.gens[so.tenant] && !(so.tenant == t && so.kind == kind && so.spec == spec) {
			keep = append(keep, so)
		}
	}
	o.orders = keep
	if len(o.orders) >= maxSortOrders {
		oldest := 0
		for i, so := range o.orders {
			if so.used < o.orders[oldest].used {
				oldest = i
			}
		}
		o.orders = append(o.orders[:oldest], o.orders[oldest+1:]...)
	}
	o.orders = append(o.orders, &sortOrder{tenant: t, kind: kind, spec: spec, gen: gen, used: o.tick, items: items, less: less, keyOf: keyOf})
}

// changed is the change-feed subscriber.
func (o *sortOrders) changed(cs []policy.Change) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.gens == nil {
		o.gens = map[policy.TenantID]uint64{}
	}
	for _, c := range cs {
		if c.Tenant == "" {
			continue
		}
		prev := o.gens[c.Tenant]
		o.gens[c.Tenant] = prev + 1
		for _, so := range o.orders {
			if so.tenant != c.Tenant || so.gen != prev {
				continue
			}
			switch {
			case so.kind != userKind || c.Kind == policy.KindTenant:
				// Stale: rebuilt when next asked for.
			case c.Kind != policy.KindUser:
				so.gen = prev + 1 // a user's rendering depends on its record only
			case so.keyOf != nil && len(so.pending) < maxPending(len(so.items)):
				so.pending = append(so.pending, c)
				so.gen = prev + 1
			}
		}
	}
}

// maxPending bounds the changes queued on an order of n items: beyond
// it, a rebuild is as cheap as the merge.
func maxPending(n int) int { return n/2 + 1024 }

// merge applies the queued user changes to so.items in one pass: the
// changed users leave their places, and those that still exist come back
// at their new ones. It reports false when a change cannot be read.
func (so *sortOrder) merge() bool {
	if len(so.pending) == 0 {
		return true
	}
	last := make(map[string]policy.Change, len(so.pending)) // id → its last change
	for _, c := range so.pending {
		last[c.ID] = c
	}
	so.pending = nil
	var moved []sortedItem
	for id, c := range last {
		_, u, err := policy.Records[policy.User](c)
		if err != nil {
			return false
		}
		if u == nil {
			continue // deleted
		}
		if string(u.ID) != id {
			return false
		}
		moved = append(moved, sortedItem{key: so.keyOf(*u), id: id})
	}
	sort.Slice(moved, func(i, j int) bool { return so.less(moved[i], moved[j]) })
	// Out of their places, then merged in from the back, in place.
	kept := slices.DeleteFunc(so.items, func(x sortedItem) bool { _, changed := last[x.id]; return changed })
	i, j := len(kept)-1, len(moved)-1
	out := slices.Grow(kept, len(moved))[:len(kept)+len(moved)]
	for k := len(out) - 1; j >= 0; k-- {
		if i >= 0 && so.less(moved[j], kept[i]) {
			out[k] = kept[i]
			i--
		} else {
			out[k] = moved[j]
			j--
		}
	}
	so.items = out
	return true
}

package scim

import (
	"sync"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// maxSortOrders bounds the sort orders kept in memory (each holds a key
// and an id per resource of its tenant).
const maxSortOrders = 4

// sortOrders keeps the sorted order of a tenant's resources under the
// sortSpecs clients page through unfiltered (Okta's and other importers'
// sortBy), so that the second and following pages are a slice of it, not
// a read and sort of the whole tenant. An order is dropped when the store's
// change feed reports any change of its tenant: a generation per tenant,
// read before the order is built, tells whether it is still current.
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
}

// get returns the current order of tenant's resources of kind under spec,
// or nil, and the tenant's generation to build one with.
func (o *sortOrders) get(t policy.TenantID, kind resourceKind, spec string) ([]sortedItem, uint64) {
	o.once.Do(func() {
		// Before the first generation is read, so that no change is
		// missed; outside o.mu, since the feed calls back under the
		// store's own locks.
		o.st.Subscribe(o.changed)
	})
	o.mu.Lock()
	defer o.mu.Unlock()
	gen := o.gens[t]
	for _, so := range o.orders {
		if so.tenant == t && so.kind == kind && so.spec == spec && so.gen == gen {
			o.tick++
			so.used = o.tick
			return so.items, gen
		}
	}
	return nil, gen
}

// put keeps items as the order of generation gen, unless the tenant has
// changed since.
func (o *sortOrders) put(t policy.TenantID, kind resourceKind, spec string, gen uint64, items []sortedItem) {
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
	o.orders = append(o.orders, &sortOrder{tenant: t, kind: kind, spec: spec, gen: gen, used: o.tick, items: items})
}

// changed is the change-feed subscriber: every change of a tenant's
// records makes its orders stale.
func (o *sortOrders) changed(cs []policy.Change) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.gens == nil {
		o.gens = map[policy.TenantID]uint64{}
	}
	for _, c := range cs {
		if c.Tenant != "" {
			o.gens[c.Tenant]++
		}
	}
}

package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	scimerr "github.com/elimity-com/scim/errors"

	"github.com/roster-dev/roster/store"
)

// Defaults of the Bulk limits (Config.BulkMaxOperations,
// Config.BulkMaxBytes), advertised in /ServiceProviderConfig.
const (
	DefaultBulkMaxOperations = 1000
	DefaultBulkMaxBytes      = 4 << 20
)

const (
	bulkRequestSchema  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	bulkResponseSchema = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
	bulkIDPrefix       = "bulkId:"
	// bulkTxOps bounds the operations that share one store transaction,
	// so a large request never holds the store's writer for long.
	bulkTxOps = 100
)

// bulkTx lets the handlers of the operations of a Bulk request write in a
// transaction the Bulk driver opened (see Server.update).
type bulkTx struct {
	tx store.Tx
	// dirty is set when an operation failed inside the transaction, which
	// may then hold part of its writes: the driver rolls the transaction
	// back and replays.
	dirty bool
}

// bulkOp is one parsed operation of a Bulk request (RFC 7644 §3.7).
type bulkOp struct {
	method, path, bulkID, version string
	data                          map[string]any
	refs                          []string // bulkIds this operation refers to
	err                           error    // set when the operation is malformed
}

// bulkResult is the outcome of one operation, as the BulkResponse lists it.
type bulkResult struct {
	op       *bulkOp
	status   int
	location string
	version  string
	id       string // of the resource a POST created
	err      *Error
}

func (b bulkResult) json() map[string]any {
	m := map[string]any{"method": b.op.method, "status": strconv.Itoa(b.status)}
	if b.op.bulkID != "" {
		m["bulkId"] = b.op.bulkID
	}
	if b.location != "" {
		m["location"] = b.location
	}
	if b.version != "" {
		m["version"] = b.version
	}
	if b.err != nil {
		m["response"] = b.err
	}
	return m
}

// bulk serves POST /Bulk (RFC 7644 §3.7): each operation is applied on its
// own, atomically, as its own request would be; bulkId references
// ("bulkId:qwerty" in a path or anywhere in data) name the resource an
// earlier POST of the request created, and operations are reordered so
// that a reference follows its POST; references in a cycle, to an unknown
// bulkId or to a failed POST fail with 409. failOnErrors stops the
// processing after that many errors; the answer lists the operations
// processed. More than BulkMaxOperations operations or BulkMaxBytes bytes
// is 413, and nothing is done; an operation whose data is larger than
// MaxBodyBytes fails with 413 on its own, as its own request would.
//
// Operations share store transactions, bulkTxOps at a time: an operation
// that fails inside one rolls it back, the operations before it are
// replayed, and the failing one runs alone, so each still changes all or
// nothing.
func (s *Server) bulk(r request) (response, error) {
	if err := allow(r, http.MethodPost); err != nil {
		return response{}, err
	}
	body, err := readJSON(r)
	if err != nil {
		return response{}, err
	}
	if !listsSchema(body, bulkRequestSchema) {
		return response{}, errorf(scimerr.ScimErrorInvalidSyntax, "schemas must name %s", bulkRequestSchema)
	}
	list, ok := getKey(body, "Operations").([]any)
	if !ok {
		return response{}, errorf(scimerr.ScimErrorInvalidSyntax, "Operations must be an array")
	}
	if len(list) > s.bulkMaxOps {
		return response{}, errorf(scimerr.ScimError{Status: http.StatusRequestEntityTooLarge},
			"%d operations: more than maxOperations (%d)", len(list), s.bulkMaxOps)
	}
	failOnErrors := 0
	if v := getKey(body, "failOnErrors"); v != nil {
		f, ok := toFloat(v)
		if !ok || f < 1 || f != float64(int(f)) {
			return response{}, errorf(scimerr.ScimErrorInvalidValue, "failOnErrors must be a positive integer")
		}
		failOnErrors = int(f)
	}
	ops := parseBulkOps(list)
	order, cyclic := bulkOrder(ops)

	release, err := s.admit(r)
	if err != nil {
		return response{}, err
	}
	defer release()

	d := &bulkDriver{s: s, r: r, ops: ops, order: order, cyclic: cyclic, failOnErrors: failOnErrors, ids: map[string]string{}}
	if err := d.run(); err != nil {
		return response{}, err
	}
	out := make([]any, 0, len(d.results))
	for _, res := range d.results {
		out = append(out, res.json())
	}
	return response{status: http.StatusOK, body: map[string]any{"schemas": []any{bulkResponseSchema}, "Operations": out}}, nil
}

// parseBulkOps reads the Operations of a Bulk request. A malformed
// operation keeps its error, reported as its own result.
func parseBulkOps(list []any) []*bulkOp {
	ops := make([]*bulkOp, len(list))
	seen := map[string]bool{}
	for i, el := range list {
		op := &bulkOp{}
		ops[i] = op
		m, ok := el.(map[string]any)
		if !ok {
			op.err = errorf(scimerr.ScimErrorInvalidSyntax, "operation %d is not an object", i)
			continue
		}
		op.method, _ = getKey(m, "method").(string)
		op.method = strings.ToUpper(op.method)
		op.path, _ = getKey(m, "path").(string)
		op.bulkID, _ = getKey(m, "bulkId").(string)
		op.version, _ = getKey(m, "version").(string)
		op.data, _ = getKey(m, "data").(map[string]any)
		switch {
		case op.method != http.MethodPost && op.method != http.MethodPut && op.method != http.MethodPatch && op.method != http.MethodDelete:
			op.err = errorf(scimerr.ScimErrorInvalidValue, "method must be POST, PUT, PATCH or DELETE")
		case !strings.HasPrefix(op.path, "/"):
			op.err = errorf(scimerr.ScimErrorInvalidValue, "path must be a resource path such as /Users")
		case op.method == http.MethodPost && op.bulkID == "":
			op.err = errorf(scimerr.ScimErrorInvalidValue, "bulkId is required with POST")
		case op.method != http.MethodDelete && op.data == nil:
			op.err = errorf(scimerr.ScimErrorInvalidSyntax, "data must be an object")
		case op.bulkID != "" && seen[op.bulkID]:
			op.err = errorf(scimerr.ScimErrorInvalidValue, "bulkId %q is used twice", op.bulkID)
		}
		if op.bulkID != "" {
			seen[op.bulkID] = true
		}
		op.refs = bulkRefs(op.path, op.data)
	}
	return ops
}

// bulkRefs lists the bulkIds that path and data refer to.
func bulkRefs(path string, data any) []string {
	var refs []string
	if i := strings.Index(path, bulkIDPrefix); i >= 0 {
		refs = append(refs, strings.TrimSuffix(path[i+len(bulkIDPrefix):], "/"))
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			if id, ok := strings.CutPrefix(x, bulkIDPrefix); ok {
				refs = append(refs, id)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(data)
	return refs
}

// bulkOrder orders the operations so that each follows the POSTs whose
// bulkIds it refers to, otherwise keeping the request's order; cyclic
// marks those whose references go round in a cycle.
func bulkOrder(ops []*bulkOp) (order []int, cyclic map[int]bool) {
	def := map[string]int{}
	for i, op := range ops {
		if op.bulkID != "" && op.err == nil && op.method == http.MethodPost {
			def[op.bulkID] = i
		}
	}
	const (
		unseen = iota
		visiting
		done
	)
	state := make([]int, len(ops))
	cyclic = map[int]bool{}
	var visit func(i int) bool // false: i is in or behind a cycle
	visit = func(i int) bool {
		switch state[i] {
		case visiting:
			cyclic[i] = true
			return false
		case done:
			return !cyclic[i]
		}
		state[i] = visiting
		ok := true
		for _, ref := range ops[i].refs {
			if j, found := def[ref]; found && j != i {
				if !visit(j) {
					ok = false
				}
			} else if found {
				ok = false // a POST referring to its own bulkId
			}
		}
		state[i] = done
		if !ok {
			cyclic[i] = true
		}
		order = append(order, i)
		return ok
	}
	for i := range ops {
		visit(i)
	}
	return order, cyclic
}

// bulkDriver runs the operations of one Bulk request.
type bulkDriver struct {
	s            *Server
	r            request
	ops          []*bulkOp
	order        []int
	cyclic       map[int]bool
	failOnErrors int

	ids     map[string]string // bulkId → id of the resources created
	results []bulkResult
	errors  int
}

// errBulkReplay aborts a shared transaction in which an operation failed.
var errBulkReplay = errors.New("scim: bulk operation failed in a shared transaction")

func (d *bulkDriver) stopped() bool { return d.failOnErrors > 0 && d.errors >= d.failOnErrors }

func (d *bulkDriver) record(res bulkResult) {
	if res.err != nil {
		d.errors++
	} else if res.op.method == http.MethodPost && res.op.bulkID != "" {
		d.ids[res.op.bulkID] = res.id
	}
	d.results = append(d.results, res)
}

// run processes d.order: batches of operations in shared transactions,
// an operation that fails inside one alone in its own.
func (d *bulkDriver) run() error {
	pos := 0
	for pos < len(d.order) && !d.stopped() {
		if err := d.r.Context().Err(); err != nil {
			return err
		}
		end := min(pos+bulkTxOps, len(d.order))
		n, failed, err := d.batch(pos, end)
		if err != nil {
			return err
		}
		pos += n
		if failed {
			// The operation at pos failed inside the shared
			// transaction: run it alone, in its own.
			d.record(d.runOp(d.ops[d.order[pos]], nil))
			pos++
		}
	}
	return nil
}

// batch runs d.order[from:to] in one transaction, up to the first
// operation that fails inside it: the transaction is then rolled back and
// those before it are run again without it. It returns how many
// operations it recorded and whether it stopped at a failing one.
func (d *bulkDriver) batch(from, to int) (n int, failed bool, err error) {
	for {
		var results []bulkResult
		var ids map[string]string
		failAt := -1
		err := d.s.st.Update(d.r.Context(), d.r.actor(), func(tx store.Tx) error {
			results, failAt = nil, -1
			saved := d.ids
			ids = copyIDs(saved)
			d.ids = ids
			defer func() { d.ids = saved }()
			errs := d.errors
			for i := from; i < to; i++ {
				bt := &bulkTx{tx: tx}
				res := d.runOp(d.ops[d.order[i]], bt)
				if bt.dirty {
					failAt = i
					return errBulkReplay
				}
				results = append(results, res)
				if res.err != nil {
					errs++
				} else if res.op.method == http.MethodPost && res.op.bulkID != "" {
					ids[res.op.bulkID] = res.id
				}
				if d.failOnErrors > 0 && errs >= d.failOnErrors {
					break
				}
			}
			return nil
		})
		switch {
		case errors.Is(err, errBulkReplay) && failAt == from:
			return 0, true, nil
		case errors.Is(err, errBulkReplay):
			to = failAt // replay those before it, which did not fail
			continue
		case err != nil:
			d.s.noteStorage(err)
			return 0, false, fmt.Errorf("scim: bulk: %w", err)
		}
		for _, res := range results {
			d.record(res)
		}
		return len(results), false, nil
	}
}

func copyIDs(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// runOp runs one operation through the handler its own request would
// reach, in bt's transaction (or its own when bt is nil).
func (d *bulkDriver) runOp(op *bulkOp, bt *bulkTx) bulkResult {
	res := bulkResult{op: op}
	fail := func(err error) bulkResult {
		se, internal := toSCIMError(err)
		if internal {
			d.s.log.ErrorContext(d.r.Context(), "scim: bulk operation", "method", op.method, "path", op.path, "err", err)
		}
		res.status, res.err = se.Status, &se
		return res
	}
	if op.err != nil {
		return fail(op.err)
	}
	if d.cyclic[slices.Index(d.ops, op)] {
		return fail(errorf(scimerr.ScimError{Status: http.StatusConflict}, "bulkId references of this operation form a cycle"))
	}
	path, data, err := d.resolve(op)
	if err != nil {
		return fail(err)
	}
	first, id, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	var h *resourceHandler
	switch strings.ToLower(first) {
	case "users":
		h = d.s.handler(d.r.tenant, userKind)
	case "groups":
		h = d.s.handler(d.r.tenant, groupKind)
	default:
		return fail(errorf(scimerr.ScimErrorInvalidValue, "path must name /Users or /Groups"))
	}
	if (op.method == http.MethodPost) != (id == "") || strings.Contains(id, "/") || id == ".search" {
		return fail(errorf(scimerr.ScimErrorInvalidValue, "path %q does not fit method %s", op.path, op.method))
	}
	var rd *bytes.Reader
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return fail(err)
		}
		rd = bytes.NewReader(b)
	}
	u := &url.URL{Path: PathPrefix + string(d.r.tenant) + path}
	sub, err := http.NewRequestWithContext(d.r.Context(), op.method, u.String(), nil)
	if err != nil {
		return fail(errorf(scimerr.ScimErrorInvalidValue, "bad path %q", op.path))
	}
	if rd != nil {
		// Each operation's data is bounded as its own request's body
		// would be (Config.MaxBodyBytes): the Bulk limit is the sum's.
		sub.Body = http.MaxBytesReader(nil, readCloser{rd}, d.s.maxBody)
		sub.Header.Set("Content-Type", "application/scim+json")
	}
	if op.version != "" {
		sub.Header.Set("If-Match", op.version)
	}
	sr := request{Request: sub, tenant: d.r.tenant, bulk: bt}
	var resp response
	switch op.method {
	case http.MethodPost:
		resp, err = h.create(sr)
	case http.MethodPut:
		resp, err = h.replace(sr, id)
	case http.MethodPatch:
		resp, err = h.patch(sr, id)
	case http.MethodDelete:
		resp, err = h.delete(sr, id)
	}
	if err != nil {
		return fail(err)
	}
	res.status, res.version = resp.status, resp.etag
	if op.method == http.MethodPost {
		res.location = resp.loc
		if m, ok := resp.body.(map[string]any); ok {
			res.id, _ = m["id"].(string)
		}
	} else if op.method != http.MethodDelete {
		res.location = d.s.location(d.r.tenant, h.endpoint(), id)
	}
	return res
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// resolve replaces the bulkId references of op by the ids of the
// resources created; one that names no resource created (unknown, or its
// POST failed) is 409.
func (d *bulkDriver) resolve(op *bulkOp) (string, map[string]any, error) {
	var bad string
	sub := func(s string) string {
		ref, ok := strings.CutPrefix(s, bulkIDPrefix)
		if !ok {
			return s
		}
		id, ok := d.ids[ref]
		if !ok {
			bad = ref
			return s
		}
		return id
	}
	path := op.path
	if i := strings.Index(path, bulkIDPrefix); i >= 0 {
		path = path[:i] + sub(path[i:])
	}
	var data map[string]any
	if op.data != nil {
		data = replaceStrings(deepCopy(op.data), sub).(map[string]any)
	}
	if bad != "" {
		return "", nil, errorf(scimerr.ScimError{Status: http.StatusConflict},
			"bulkId %q names no resource created by this request", bad)
	}
	return path, data, nil
}

func replaceStrings(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case map[string]any:
		for k, e := range x {
			x[k] = replaceStrings(e, f)
		}
	case []any:
		for i, e := range x {
			x[i] = replaceStrings(e, f)
		}
	}
	return v
}

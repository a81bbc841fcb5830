// Package jsonrec keeps JSON values in a store's record namespaces, the
// opaque records (store.Tx PutRecord, GetRecord, ScanRecords) in which the
// admin API, OIDC, mail and outbound provisioning keep their own state.
// It adds nothing to the store's semantics: a missing record is the
// store's ErrNotFound, and a value is only valid inside its transaction.
package jsonrec

import "encoding/json"

// Records is the part of a store transaction this package uses
// (store.Tx has it).
type Records interface {
	PutRecord(ns, key string, value []byte) error
	GetRecord(ns, key string) ([]byte, error)
	ScanRecords(ns, prefix string, fn func(key string, value []byte) error) error
}

// Get decodes record key of namespace ns into v. A missing record is the
// store's error (store.ErrNotFound), unwrapped.
func Get(tx Records, ns, key string, v any) error {
	b, err := tx.GetRecord(ns, key)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Put stores v, encoded as JSON, as record key of namespace ns.
func Put(tx Records, ns, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.PutRecord(ns, key, b)
}

// Scan decodes every record of namespace ns whose key starts with prefix,
// in key order. A record that does not decode as T stops the scan with
// its error.
func Scan[T any](tx Records, ns, prefix string) ([]T, error) {
	var out []T
	err := tx.ScanRecords(ns, prefix, func(_ string, v []byte) error {
		var x T
		if err := json.Unmarshal(v, &x); err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

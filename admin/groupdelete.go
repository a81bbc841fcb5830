package admin

import (
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// groupRecordNamespaces are the record namespaces keyed "<group>/…": a
// deleted group's records there go with it, in the same transaction.
var groupRecordNamespaces = []string{nsJoinRequests, nsRSVPs}

// deleteGroupRecords deletes g's membership requests and RSVPs. The keys
// are collected first: a scan does not delete under itself.
func deleteGroupRecords(tx store.Tx, g policy.GroupID) error {
	for _, ns := range groupRecordNamespaces {
		var keys []string
		if err := tx.ScanRecords(ns, string(g)+"/", func(k string, _ []byte) error {
			keys = append(keys, k)
			return nil
		}); err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.DeleteRecord(ns, k); err != nil {
				return err
			}
		}
	}
	return nil
}

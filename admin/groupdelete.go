package admin

import (
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// groupRecordNamespaces are the record namespaces keyed "<group>/…": a
// deleted group's records there go with it, in the same transaction.
var groupRecordNamespaces = []string{nsJoinRequests, nsRSVPs, nsPrograms, nsTalks, nsTopics, nsCheckins, nsRatings}

// deleteGroupRecords deletes g's membership requests, RSVPs and meeting
// activity (talks, topics, programs, check-ins, ratings).
func deleteGroupRecords(tx store.Tx, g policy.GroupID) error {
	return deleteRecordsUnder(tx, string(g)+"/", groupRecordNamespaces...)
}

// deleteRecordsUnder deletes the records of the namespaces whose keys
// start with prefix. The keys are collected first: a scan does not delete
// under itself.
func deleteRecordsUnder(tx store.Tx, prefix string, namespaces ...string) error {
	for _, ns := range namespaces {
		var keys []string
		if err := tx.ScanRecords(ns, prefix, func(k string, _ []byte) error {
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

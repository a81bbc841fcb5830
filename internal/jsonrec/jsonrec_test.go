package jsonrec_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/roster-dev/roster/internal/jsonrec"
	"github.com/roster-dev/roster/internal/teststore"
	"github.com/roster-dev/roster/store"
)

type item struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

func TestPutGetScan(t *testing.T) {
	st := teststore.Bolt(t)
	err := st.Update(t.Context(), "test", func(tx store.Tx) error {
		for _, it := range []item{{"b", 2}, {"a", 1}, {"c", 3}} {
			if err := jsonrec.Put(tx, "items", "x/"+it.Name, it); err != nil {
				return err
			}
		}
		return jsonrec.Put(tx, "items", "y/d", item{"d", 4})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.View(t.Context(), func(tx store.Tx) error {
		var got item
		if err := jsonrec.Get(tx, "items", "x/b", &got); err != nil || got != (item{"b", 2}) {
			t.Errorf("Get x/b = %+v, %v", got, err)
		}
		if err := jsonrec.Get(tx, "items", "x/none", &got); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get x/none: %v, want ErrNotFound", err)
		}
		all, err := jsonrec.Scan[item](tx, "items", "x/")
		if want := []item{{"a", 1}, {"b", 2}, {"c", 3}}; err != nil || !slices.Equal(all, want) {
			t.Errorf("Scan x/ = %+v, %v; want %+v", all, err, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestScanStopsAtABadRecord(t *testing.T) {
	st := teststore.Bolt(t)
	err := st.Update(t.Context(), "test", func(tx store.Tx) error {
		if err := jsonrec.Put(tx, "items", "a", item{"a", 1}); err != nil {
			return err
		}
		return tx.PutRecord("items", "b", []byte("not json"))
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = st.View(t.Context(), func(tx store.Tx) error {
		if _, err := jsonrec.Scan[item](tx, "items", ""); err == nil {
			t.Error("Scan over a record that is not JSON: no error")
		}
		return nil
	})
}

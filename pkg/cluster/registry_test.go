package cluster_test

import (
	"os"
	"path/filepath"
	"testing"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/stack"
)

func load(t *testing.T, dir, name, body string) *stack.Stack {
	t.Helper()
	f := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(f, []byte("apiVersion: kindred.dev/v1alpha1\nkind: Stack\nmetadata: {name: "+name+"}\ncluster: {name: "+name+"}\n"+body), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := stack.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Records are found by cluster, stack or CLUSTER/STACK; the stack loads
// from its file, or as written when the file is gone; host ports are the
// engine's own when free and not another cluster's, and are kept.
func TestRegistry(t *testing.T) {
	dir := t.TempDir()
	g := cluster.Registry{Dir: filepath.Join(dir, "clusters")}
	shop := load(t, dir, "shop", "databases: [{name: orders, engine: postgres}]\n")
	cart := load(t, dir, "cart", "databases: [{name: carts, engine: postgres}]\n")
	for _, st := range []*stack.Stack{shop, cart} {
		if err := g.Remember(cluster.Record{Provider: "sim", Kubeconfig: "/k/" + st.Cluster.Name}, st); err != nil {
			t.Fatal(err)
		}
	}
	if info, err := os.Stat(filepath.Join(dir, "clusters", "shop.shop.json")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the record's file: %v %v", info, err)
	}
	for _, name := range []string{"shop", "shop/shop"} {
		if r, err := g.Find(name); err != nil || r.Provider != "sim" || r.Source != filepath.Join(dir, "shop.yaml") {
			t.Errorf("Find(%q) = %+v, %v", name, r, err)
		}
	}
	if _, err := g.Find("nope"); err == nil {
		t.Error("Find of an unknown name succeeded")
	}
	r, _ := g.Find("shop")
	if err := os.Remove(filepath.Join(dir, "shop.yaml")); err != nil {
		t.Fatal(err)
	}
	if st, err := r.Load(); err != nil || st.Databases[0].Name != "orders" {
		t.Errorf("loading the record's stack once its file is gone: %v", err)
	}

	free := func(p int) bool { return p != 5433 } // something else listens on 5433
	ports, err := g.HostPorts(r, map[string]int{"orders": 5432}, nil, free)
	if err != nil || ports["orders"] != 5432 {
		t.Fatalf("shop's ports: %v %v", ports, err)
	}
	rc, _ := g.Find("cart")
	ports, err = g.HostPorts(rc, map[string]int{"carts": 5432}, nil, free)
	if err != nil || ports["carts"] == 5432 || ports["carts"] == 5433 || ports["carts"] == 0 {
		t.Fatalf("cart's port must not be shop's, nor one in use: %v %v", ports, err)
	}
	again, _ := g.HostPorts(rc, map[string]int{"carts": 5432}, nil, func(int) bool { return true })
	if again["carts"] != ports["carts"] {
		t.Errorf("cart's port changed from %d to %d", ports["carts"], again["carts"])
	}
	// A port the stack fixes is used, and kept from other clusters.
	if got, err := g.HostPorts(r, nil, map[string]int{"orders": 6543}, free); err != nil || got["orders"] != 6543 {
		t.Errorf("a fixed port: %v %v", got, err)
	}
	if rs, _ := g.Find("shop"); rs.Ports["orders"] != 6543 {
		t.Errorf("the fixed port is not recorded: %+v", rs.Ports)
	}
	// A new up keeps the ports.
	if err := g.Remember(cluster.Record{Provider: "sim"}, cart); err != nil {
		t.Fatal(err)
	}
	if rc, _ := g.Find("cart"); rc.Ports["carts"] != ports["carts"] {
		t.Errorf("remembering again lost the ports: %+v", rc)
	}
	if err := g.Forget(shop); err != nil {
		t.Fatal(err)
	}
	if all, _ := g.Records(); len(all) != 1 || all[0].Cluster != "cart" {
		t.Errorf("records after Forget: %+v", all)
	}
}

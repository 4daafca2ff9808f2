package cli

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func TestMergeKubeconfig(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "private")
	in := clientcmdapi.NewConfig()
	in.Clusters["kind-shop"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:40001"}
	in.AuthInfos["kind-shop"] = &clientcmdapi.AuthInfo{Token: "t"}
	in.Contexts["kind-shop"] = &clientcmdapi.Context{Cluster: "kind-shop", AuthInfo: "kind-shop"}
	in.CurrentContext = "kind-shop"
	if err := clientcmd.WriteToFile(*in, src); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "kube", "config")
	existing := clientcmdapi.NewConfig()
	existing.Clusters["prod"] = &clientcmdapi.Cluster{Server: "https://prod.example"}
	existing.Contexts["prod"] = &clientcmdapi.Context{Cluster: "prod"}
	existing.CurrentContext = "prod"
	os.MkdirAll(filepath.Dir(dst), 0o700)
	if err := clientcmd.WriteToFile(*existing, dst); err != nil {
		t.Fatal(err)
	}
	if err := mergeKubeconfig(src, dst, "kindred-shop"); err != nil {
		t.Fatal(err)
	}
	out, err := clientcmd.LoadFromFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if out.CurrentContext != "kindred-shop" || out.Clusters["kindred-shop"].Server != "https://127.0.0.1:40001" || out.Contexts["prod"] == nil {
		t.Errorf("merged config: current %q, clusters %v", out.CurrentContext, out.Clusters)
	}
	if info, _ := os.Stat(dst); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", info.Mode().Perm())
	}
}

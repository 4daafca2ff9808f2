# Sourced by the test bed's build scripts. kube_ldflags VERSION prints the
# linker flags that stamp Kubernetes binaries with their version; without
# them they report v0.0.0-master, and chart kubeVersion constraints break.
kube_ldflags() {
  local v=$1 minor=${1#v1.}
  minor=${minor%%.*}
  echo "-s -w \
 -X k8s.io/component-base/version.gitVersion=$v \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=$minor \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z \
 -X k8s.io/client-go/pkg/version.gitVersion=$v \
 -X k8s.io/client-go/pkg/version.gitMajor=1 \
 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
}

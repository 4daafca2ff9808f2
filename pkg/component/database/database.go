// Package database is the databases built-in: Postgres, MySQL and Redis
// servers from their official images (the catalogue's postgres, mysql and
// redis entries give each engine's image, port and versions), with
// generated credentials kept across runs, init and seed scripts, data kept
// in the host's data folder on kind, and readiness that means a real login
// (a Postgres SELECT 1, a MySQL ping, a Redis AUTH and PING).
package database

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/component"
	"kindred.dev/kindred/pkg/internal/kube"
	"kindred.dev/kindred/pkg/internal/ready"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// User is the user kindred creates in every database.
const User = "kindred"

// database renders a database server from its engine's official image: a
// Secret with generated credentials (kept across runs), init scripts, a
// StatefulSet and a Service.
func render(ctx context.Context, env *component.Env, s *plan.Step) ([]*unstructured.Unstructured, error) {
	db, e := s.Database, s.Inputs.Engine
	if e == nil {
		return nil, fmt.Errorf("no catalogue entry for engine %s", db.Engine)
	}
	eng, err := engineOf(db.Engine)
	if err != nil {
		return nil, err
	}
	version := db.Version
	if version == "" {
		version = e.DefaultVersion
	}
	password, err := databasePassword(ctx, env, db)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{"app.kubernetes.io/name": db.Engine, "app.kubernetes.io/instance": db.Name, "app.kubernetes.io/managed-by": "kindred"}
	secretName := SecretName(db.Name)
	secret := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: db.Namespace, Labels: labels},
		Type:       corev1.SecretTypeOpaque,
		StringData: map[string]string{"username": User, "password": password, "database": db.Name,
			"host": fmt.Sprintf("%s.%s.svc.cluster.local", db.Name, db.Namespace), "port": fmt.Sprint(e.Port)},
	}
	fromSecret := func(name, key string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secretName}, Key: key}}}
	}
	c := corev1.Container{
		Name:  db.Engine,
		Image: fmt.Sprintf("%s:%s", e.Image, version),
		Ports: []corev1.ContainerPort{{Name: db.Engine, ContainerPort: int32(e.Port)}},
	}
	dataPath := eng.dataPath()
	eng.serve(&c, db, fromSecret)
	c.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: dataPath}}

	objs := []runtime.Object{secret}
	pod := corev1.PodSpec{Containers: []corev1.Container{c}}
	if len(s.Inputs.Init) > 0 && eng.initScripts() {
		cm := &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: db.Name + "-init", Namespace: db.Namespace, Labels: labels},
			Data:       map[string]string{},
		}
		for _, sc := range s.Inputs.Init {
			cm.Data[sc.Name] = sc.Content
		}
		objs = append(objs, cm)
		pod.Containers[0].VolumeMounts = append(pod.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "init", MountPath: "/docker-entrypoint-initdb.d", ReadOnly: true})
		pod.Volumes = append(pod.Volumes, corev1.Volume{Name: "init", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm.Name}}}})
	}
	one := int32(1)
	sts := &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Name: db.Name, Namespace: db.Namespace, Labels: labels},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &one,
			ServiceName: db.Name,
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/instance": db.Name}},
			Template:    corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: pod},
		},
	}
	if db.Persistence != nil && db.Persistence.Enabled && env.Access.HostData {
		// On kind with a data folder: a volume at a fixed place in it, so
		// the data outlives the cluster (down, then up, re-creates it).
		pv, pvc := hostVolume(env.Stack, db, labels)
		objs = append(objs, pv, pvc)
		sts.Spec.Template.Spec.Volumes = append(sts.Spec.Template.Spec.Volumes, corev1.Volume{Name: "data",
			VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pvc.Name}}})
	} else if db.Persistence != nil && db.Persistence.Enabled {
		size := db.Persistence.Size
		if size == "" {
			size = "1Gi"
		}
		sts.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{
			ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
			},
		}}
	} else {
		sts.Spec.Template.Spec.Volumes = append(sts.Spec.Template.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: db.Name, Namespace: db.Namespace, Labels: labels},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app.kubernetes.io/instance": db.Name},
			Ports:    []corev1.ServicePort{{Name: db.Engine, Port: int32(e.Port), TargetPort: intstr.FromString(db.Engine)}},
		},
	}
	objs = append(objs, sts, svc)
	if len(s.Inputs.Seed) > 0 {
		scripts := map[string]string{}
		for _, sc := range s.Inputs.Seed {
			scripts[sc.Name] = sc.Content
		}
		objs = append(objs, seedObjects(db, eng, c.Image, scripts, labels)...)
	}
	return kube.ToUnstructured(objs...)
}

// databasePassword returns the password already in the cluster, or a new
// one. It is never logged or sent as an event.
func databasePassword(ctx context.Context, env *component.Env, db *api.Database) (string, error) {
	if env.Kube == nil {
		// Rendered with no cluster (kindred render): the credentials'
		// Secret is left out for its user to create, so it holds none.
		return "", nil
	}
	s, err := env.Kube.Typed.CoreV1().Secrets(db.Namespace).Get(ctx, SecretName(db.Name), metav1.GetOptions{})
	switch {
	case err == nil && len(s.Data["password"]) > 0:
		return string(s.Data["password"]), nil
	case err != nil && !apierrors.IsNotFound(err):
		return "", fmt.Errorf("reading the credentials of %s: %w", db.Name, err)
	}
	// Data kept in the host's data folder was made with the password kept
	// beside it (0600); a new one would lock the database's user out.
	file := ""
	if db.Persistence != nil && db.Persistence.Enabled && env.Access.HostData {
		dir, err := filepath.Abs(env.Stack.Cluster.DataDir)
		if err != nil {
			return "", err
		}
		file = filepath.Join(dir, "kindred-credentials", db.Namespace+"-"+db.Name)
		if pw, err := os.ReadFile(file); err == nil && len(pw) > 0 {
			return string(pw), nil
		}
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	pw := base64.RawURLEncoding.EncodeToString(b)
	if file != "" {
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return "", err
		}
		if err := os.WriteFile(file, []byte(pw), 0o600); err != nil {
			return "", fmt.Errorf("keeping the credentials of %s with its data: %w", db.Name, err)
		}
	}
	return pw, nil
}

// hostVolume is a database's volume at a fixed path in the data folder (as
// the node sees it), pinned to the node that mounts it, and its claim.
func hostVolume(st *stack.Stack, db *api.Database, labels map[string]string) (*corev1.PersistentVolume, *corev1.PersistentVolumeClaim) {
	size := "1Gi"
	if db.Persistence.Size != "" {
		size = db.Persistence.Size
	}
	node := api.NodeName(st.Cluster.Name, api.RoleControlPlane, 1)
	for _, g := range st.Cluster.Nodes {
		if g.Role == api.RoleWorker {
			node = api.NodeName(st.Cluster.Name, api.RoleWorker, 1)
			break
		}
	}
	name := "kindred-" + db.Namespace + "-" + db.Name
	class := "kindred-host-data"
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	pv := &corev1.PersistentVolume{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolume"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              class,
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: "/var/local-path-provisioner/kindred/" + db.Namespace + "/" + db.Name, Type: &dirOrCreate}},
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: db.Namespace, Name: db.Name + "-data"},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
			}}}},
		},
	}
	pvc := &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{Name: db.Name + "-data", Namespace: db.Namespace, Labels: labels},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: &class,
			VolumeName:       name,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
	}
	return pv, pvc
}

func execProbe(cmd ...string) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: cmd}}, PeriodSeconds: 2, FailureThreshold: 30}
}

// URL is a database's connection URL built from its credentials Secret's
// data (the keys kindred writes), with the password replaced by **** unless
// showPassword is set.
func URL(db api.Database, secret map[string][]byte, showPassword bool) string {
	pw := "****"
	if showPassword {
		pw = string(secret["password"])
	}
	host := fmt.Sprintf("%s:%s", secret["host"], secret["port"])
	e, err := engineOf(db.Engine)
	if err != nil {
		return ""
	}
	return e.url(string(secret["username"]), pw, host, string(secret["database"]))
}

// pingDatabase is a database's real readiness: on a cluster that runs
// containers, it logs in through a port-forward to the server's pod and runs
// the engine's query (SELECT 1, a MySQL ping, a Redis PING), retrying until
// the step's timeout. The simulated cluster runs no servers; there a Ready
// pod is all there is to check. The provider says so, and kwok marks its
// fake nodes for a cluster reached as an existing one.
func pingDatabase(ctx context.Context, env *component.Env, db *api.Database) error {
	pod := db.Name + "-0" // the StatefulSet's one replica
	p, err := env.Kube.Typed.CoreV1().Pods(db.Namespace).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("database %s: %w", db.Name, err)
	}
	if env.Access.Simulated {
		env.Skip("login check", "simulated nodes run no database server")
		return nil
	}
	if node, err := env.Kube.Typed.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{}); err == nil && node.Annotations[cluster.SimulatedNodeAnnotation] == "fake" {
		env.Skip("login check", "simulated nodes run no database server")
		return nil
	}
	e := env.Step.Inputs.Engine
	if e == nil {
		return fmt.Errorf("no catalogue entry for engine %s", db.Engine)
	}
	secret, err := env.Kube.Typed.CoreV1().Secrets(db.Namespace).Get(ctx, SecretName(db.Name), metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading the credentials of %s: %w", db.Name, err)
	}
	target := Target{Engine: db.Engine, User: string(secret.Data["username"]),
		Password: string(secret.Data["password"]), Database: string(secret.Data["database"])}
	ctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	var last error
	for {
		addr, stop, err := env.Kube.PortForward(ctx, db.Namespace, pod, e.Port)
		if err == nil {
			target.Addr = addr
			env.Say("connecting: " + target.What())
			err = Ping(ctx, target)
			stop()
			if err == nil {
				return nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: database %s does not answer (%s, through a port-forward to pod %s/%s): %v",
				ready.ErrNotReady, db.Name, Target{Engine: db.Engine, Addr: fmt.Sprintf("%s:%d", pod, e.Port), User: target.User, Database: target.Database}.What(), db.Namespace, pod, last)
		case <-time.After(time.Second):
		}
	}
}

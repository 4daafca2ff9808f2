package database

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
)

// A seed script (dbEngine.seed) runs at most once per database: its hash
// is recorded in the database (a kindred_seeds table, or a Redis key) after
// it succeeds, and a script already recorded is skipped, so kept data is not
// seeded twice and a changed script runs again. $HOST, $DB and the
// client's password variable come from the Job's environment; $PORT and
// $SEED_DIR default to the engine's port and /seed.

// seedObjects are a database's seed scripts as a ConfigMap and the Job
// that runs them with the engine's own client, named after their content:
// changed scripts make a new Job, and the old one is pruned.
func seedObjects(db *api.Database, e dbEngine, image string, scripts map[string]string, labels map[string]string) []runtime.Object {
	names := make([]string, 0, len(scripts))
	for n := range scripts {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%s\x00", n, scripts[n])
	}
	sum := hex.EncodeToString(h.Sum(nil))[:10]
	name := db.Name + "-seed-" + sum
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: db.Namespace, Labels: labels},
		Data:       scripts,
	}
	secret := func(key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: SecretName(db.Name)}, Key: key}}
	}
	script, passwordEnv := e.seed()
	env := []corev1.EnvVar{{Name: "HOST", Value: db.Name}, {Name: "DB", Value: db.Name}, {Name: passwordEnv, ValueFrom: secret("password")}}
	backoff := int32(10)
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: db.Namespace, Labels: labels},
		Spec: batchv1.JobSpec{
			BackoffLimit: &backoff,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/managed-by": "kindred", "kindred.dev/seed": db.Name}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{
						Name: "seed", Image: image, Command: []string{"sh", "-c", script}, Env: env,
						VolumeMounts: []corev1.VolumeMount{{Name: "seed", MountPath: "/seed", ReadOnly: true}},
					}},
					Volumes: []corev1.Volume{{Name: "seed", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}}},
				},
			},
		},
	}
	return []runtime.Object{cm, job}
}

package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sort"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	api "kindred.dev/kindred/pkg/api/v1alpha1"
)

// seedScripts is the shell a database's seed Job runs, by engine. Each
// script runs at most once per database: its hash is recorded in the
// database (a kindred_seeds table, or a Redis key) after it succeeds, and
// a script already recorded is skipped, so kept data is not seeded twice
// and a changed script runs again. $HOST, $DB and the client's password
// variable come from the Job's environment; $PORT and $SEED_DIR default to
// the engine's port and /seed.
var seedScripts = map[string]string{
	api.EnginePostgres: `set -eu
q() { psql -h "$HOST" -p "${PORT:-5432}" -U kindred -d "$DB" -v ON_ERROR_STOP=1 -tA "$@"; }
until pg_isready -h "$HOST" -p "${PORT:-5432}" -U kindred -d "$DB" >/dev/null; do sleep 1; done
q -c 'CREATE TABLE IF NOT EXISTS kindred_seeds (hash text PRIMARY KEY, file text, at timestamptz DEFAULT now())'
for f in "${SEED_DIR:-/seed}"/*; do
  h=$(sha256sum "$f" | cut -c1-64)
  [ -n "$(q -c "SELECT 1 FROM kindred_seeds WHERE hash = '$h'")" ] && { echo "seeded before: $f"; continue; }
  echo "seeding: $f"
  q -1 -f "$f" -c "INSERT INTO kindred_seeds (hash, file) VALUES ('$h', '$(basename "$f")')"
done`,
	api.EngineMySQL: `set -eu
q() { mysql -h "$HOST" -P "${PORT:-3306}" -ukindred "$DB" "$@"; }
until mysqladmin ping -h "$HOST" -P "${PORT:-3306}" -ukindred --silent >/dev/null; do sleep 1; done
q -e 'CREATE TABLE IF NOT EXISTS kindred_seeds (hash CHAR(64) PRIMARY KEY, file TEXT, at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)'
for f in "${SEED_DIR:-/seed}"/*; do
  h=$(sha256sum "$f" | cut -c1-64)
  [ -n "$(q -N -e "SELECT 1 FROM kindred_seeds WHERE hash = '$h'")" ] && { echo "seeded before: $f"; continue; }
  echo "seeding: $f"
  { echo 'START TRANSACTION;'; cat "$f"; echo; echo "INSERT INTO kindred_seeds (hash, file) VALUES ('$h', '$(basename "$f")'); COMMIT;"; } | q
done`,
	api.EngineRedis: `set -eu
r() { redis-cli -h "$HOST" -p "${PORT:-6379}" "$@"; }
until [ "$(r ping)" = PONG ]; do sleep 1; done
for f in "${SEED_DIR:-/seed}"/*; do
  h=$(sha256sum "$f" | cut -c1-64)
  [ "$(r exists "kindred:seed:$h")" = 1 ] && { echo "seeded before: $f"; continue; }
  echo "seeding: $f"
  r < "$f" >/dev/null
  r set "kindred:seed:$h" "$(basename "$f")" >/dev/null
done`,
}

// seedObjects are a database's seed scripts as a ConfigMap and the Job
// that runs them with the engine's own client, named after their content:
// changed scripts make a new Job, and the old one is pruned.
func seedObjects(db *api.Database, image string, scripts map[string]string, labels map[string]string) []runtime.Object {
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
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: db.Name + "-credentials"}, Key: key}}
	}
	env := []corev1.EnvVar{{Name: "HOST", Value: db.Name}, {Name: "DB", Value: db.Name}}
	switch db.Engine {
	case api.EnginePostgres:
		env = append(env, corev1.EnvVar{Name: "PGPASSWORD", ValueFrom: secret("password")})
	case api.EngineMySQL:
		env = append(env, corev1.EnvVar{Name: "MYSQL_PWD", ValueFrom: secret("password")})
	case api.EngineRedis:
		env = append(env, corev1.EnvVar{Name: "REDISCLI_AUTH", ValueFrom: secret("password")})
	}
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
						Name: "seed", Image: image, Command: []string{"sh", "-c", seedScripts[db.Engine]}, Env: env,
						VolumeMounts: []corev1.VolumeMount{{Name: "seed", MountPath: "/seed", ReadOnly: true}},
					}},
					Volumes: []corev1.Volume{{Name: "seed", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}}},
				},
			},
		},
	}
	return []runtime.Object{cm, job}
}

// scriptFileName numbers an init or seed script so they run in the
// stack's order.
func scriptFileName(i int, path string) string { return fmt.Sprintf("%02d-%s", i, filepath.Base(path)) }

package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"kindred.dev/kindred/pkg/cluster"
	"kindred.dev/kindred/pkg/engine"
	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

// lockPath is where a stack's lock lives: beside its file. A built-in
// stack has none.
func lockPath(st *stack.Stack) string {
	if st.File == "" || st.FS != nil {
		return ""
	}
	return filepath.Join(filepath.Dir(st.File), engine.LockFile)
}

// lockFor reads the stack's lock and checks it is current; with locked,
// a missing lock is refused too. Both refusals are bad input: nothing has
// been created yet.
func lockFor(st *stack.Stack, p cluster.Provider, locked bool) (*engine.Lock, error) {
	path := lockPath(st)
	if path == "" {
		if locked {
			return nil, usageError{errors.New("--locked: a built-in stack has no kindred.lock; lock a stack file")}
		}
		return nil, nil
	}
	l, err := engine.ReadLock(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if locked {
			return nil, usageError{fmt.Errorf("--locked: no %s beside the stack; run kindred lock %s", engine.LockFile, st.File)}
		}
		return nil, nil
	case err != nil:
		return nil, usageError{err}
	}
	var opts []plan.Option
	if p != nil {
		opts = append(opts, plan.ForProvider(p.Name()))
	}
	if err := l.Check(st, opts...); err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", path, err)}
	}
	return l, nil
}

func (a *app) lockCmd() *cobra.Command {
	var check bool
	var runtime string
	cmd := &cobra.Command{
		Use:   "lock [STACK]",
		Short: "Pin what the stack fetches in kindred.lock, beside it",
		Long: `Resolve everything the stack fetches and write kindred.lock beside the stack
file: each chart's version and digest, each manifest URL's sha256, the kind
node image by digest, and every container image the stack runs (as kindred
images lists them) by digest where the local registry or a pull-through
cache here can resolve it; the others are listed as unresolved, never
guessed.

up then fetches exactly what is locked, and refuses a stack changed since
(run kindred lock again) or an artifact whose digest differs. Locking twice
gives the same bytes. --check writes nothing and exits 1 when the lock is
missing or stale.`,
		Example: `  kindred lock
  kindred lock shop.yaml --check`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.loadStack(args)
			if err != nil {
				return err
			}
			path := lockPath(st)
			if path == "" {
				return usageError{errors.New("a built-in stack cannot be locked: write it to a file (kindred init) and lock that")}
			}
			ctx, stop := interruptible()
			defer stop()
			locker := engine.NewLocker(a.engineConfig(nil))
			if rt, err := cluster.DetectRuntime(ctx, runtime); err == nil {
				locker.Resolve = cluster.ResolveImage(rt)
			}
			l, err := locker.Run(ctx, st)
			if err != nil {
				if ctx.Err() != nil {
					return cancelledError{ctx.Err()}
				}
				return err
			}
			data, err := l.Marshal()
			if err != nil {
				return err
			}
			if check {
				old, err := os.ReadFile(path)
				switch {
				case errors.Is(err, fs.ErrNotExist):
					return shownError{fmt.Errorf("%s does not exist; run kindred lock", path)}
				case err != nil:
					return err
				case !bytes.Equal(old, data):
					return shownError{fmt.Errorf("%s is stale: the stack, or what it resolves to, changed; run kindred lock", path)}
				}
				fmt.Fprintf(a.stdout, "%s is current\n", path)
				return nil
			}
			if err := writeFile(path, data); err != nil {
				return err
			}
			unresolved := 0
			for _, i := range l.Images {
				if i.Digest == "" {
					unresolved++
				}
			}
			fmt.Fprintf(a.stdout, "wrote %s: %d chart%s, %d file%s, %d image%s (%d not resolved to a digest)\n", path,
				len(l.Charts), plural(len(l.Charts)), len(l.Manifests), plural(len(l.Manifests)), len(l.Images), plural(len(l.Images)), unresolved)
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "write nothing; exit 1 when kindred.lock is missing or stale")
	cmd.Flags().StringVar(&runtime, "runtime", "", "container runtime whose local registry and caches resolve image digests (default: the one that answers)")
	return cmd
}

// writeFile replaces name atomically, mode 0644.
func writeFile(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".kindred-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

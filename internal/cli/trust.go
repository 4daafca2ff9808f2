package cli

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"kindred.dev/kindred/internal/trust"
)

func (a *app) trustCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trust",
		Short: "Trust kindred's local CA on this machine, so https routes work in browsers and curl",
		Long: `kindred issues the certificates of every cluster on this machine from one
local CA, kept under the user's data folder. Trust it once with
'kindred trust install'; 'uninstall' removes it again.`,
	}
	var yes bool
	install := &cobra.Command{
		Use:   "install",
		Short: "Add the local CA to the system trust store and to NSS (Firefox, Chromium)",
		Args:  maxArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ca, _, err := trust.EnsureCA(trust.DefaultCADir())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, consent, ca.Cert.Subject.CommonName, ca.CertFile(), strings.Join(trust.ReservedDomains, ", ."))
			if !yes && !a.confirm("Trust it?") {
				return errors.New("not trusted: no consent (use --yes in scripts)")
			}
			did, err := trust.NewStore().Install(ca)
			for _, d := range did {
				fmt.Fprintln(a.stdout, "  "+d)
			}
			return err
		},
	}
	install.Flags().BoolVar(&yes, "yes", false, "do not ask")
	uninstall := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the local CA from the trust stores",
		Args:  maxArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Every kindred CA this machine may trust: the current one and
			// those an older kindred made. None is created here.
			dir := trust.DefaultCADir()
			cas, err := trust.Retired(dir)
			if err != nil {
				return err
			}
			if ca, err := trust.LoadCA(dir); err == nil {
				cas = append(cas, ca)
			} else if !errors.Is(err, trust.ErrNoCA) {
				return err
			}
			if len(cas) == 0 {
				fmt.Fprintf(a.stdout, "no kindred CA in %s: nothing to remove\n", dir)
				return nil
			}
			var errs []error
			for _, ca := range cas {
				fmt.Fprintf(a.stdout, "%s (%s)\n", ca.Cert.Subject.CommonName, ca.Cert.SerialNumber.Text(16))
				did, err := trust.NewStore().Uninstall(ca)
				for _, d := range did {
					fmt.Fprintln(a.stdout, "  "+d)
				}
				errs = append(errs, err)
			}
			return errors.Join(errs...)
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Tell whether this machine trusts the local CA",
		Args:  maxArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ca, err := trust.LoadCA(trust.DefaultCADir())
			if errors.Is(err, trust.ErrNoCA) {
				if a.json() {
					return a.writeJSON(map[string]any{"ca": nil, "trusted": false})
				}
				fmt.Fprintln(a.stdout, "no local CA yet: kindred makes one at the first up with tls.issuer local-ca, or run kindred trust install")
				return nil
			}
			if err != nil {
				return err
			}
			trusted := trust.NewStore().Trusted(ca)
			if a.json() {
				return a.writeJSON(map[string]any{"ca": ca.CertFile(), "subject": ca.Cert.Subject.CommonName, "expires": ca.Cert.NotAfter, "trusted": trusted})
			}
			fmt.Fprintf(a.stdout, "%s (%s), expires %s\n", ca.Cert.Subject.CommonName, ca.CertFile(), ca.Cert.NotAfter.Format("2006-01-02"))
			if trusted {
				fmt.Fprintln(a.stdout, "trusted by this machine")
			} else {
				fmt.Fprintln(a.stdout, "not trusted yet: run kindred trust install")
			}
			return nil
		},
	}
	cmd.AddCommand(install, uninstall, status)
	return cmd
}

// confirm asks a yes/no question on stdin; anything but y or yes is no.
func (a *app) confirm(q string) bool {
	fmt.Fprintf(a.stdout, "%s [y/N] ", q)
	line, _ := bufio.NewReader(a.stdin).ReadString('\n')
	return saidYes(line)
}

// saidYes reports whether a line typed at a [y/N] question says yes.
func saidYes(line string) bool {
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// consent is what trust install says before it asks.
const consent = `This adds a certificate authority to this machine's trust store, and to
the NSS databases of Firefox and Chromium:
  %s
  %s
Browsers and tools on this machine will then trust certificates it signs.
It can only sign names under .%s
and loopback addresses (X.509 name constraints). Its key stays in that folder (mode 0600) and never
leaves this machine: each cluster gets a CA of its own, signed by this one,
limited the same way and valid for 90 days, and only that CA's key enters
the cluster (on a cluster kindred did not create, only when the stack sets
tls.localCAOnExisting). The clusters' CAs are intermediates, whose constraints every
common verifier enforces, so a cluster cannot vouch for a real site.
'kindred trust uninstall' removes every kindred CA.
`

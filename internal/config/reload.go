package config

import (
	"fmt"
	"io/fs"
	"os"
)

// ReloadAccounts reads the accounts file again and applies the same
// validation as Load, so a reload accepts exactly what a start accepts.
func (c Config) ReloadAccounts() ([]Account, error) {
	if c.SMPP.AccountsFile == "" {
		return c.Accounts(), nil
	}
	accounts, err := ReadAccountsFile(c.SMPP.AccountsFile)
	if err != nil {
		return nil, err
	}
	if err := validateAccounts(accounts, true); err != nil {
		return nil, err
	}
	return accounts, nil
}

// AccountsFileWarning describes why the accounts file's permissions are
// unsafe (it holds passwords): readable or writable by every user. It is
// "" when they are fine or there is no file.
func (c Config) AccountsFileWarning() string {
	if c.SMPP.AccountsFile == "" {
		return ""
	}
	st, err := os.Stat(c.SMPP.AccountsFile)
	if err != nil {
		return ""
	}
	if perm := st.Mode().Perm(); perm&0o006 != 0 {
		return fmt.Sprintf("%s is %s: other users can read or change the passwords in it; chmod o-rw", c.SMPP.AccountsFile, fs.FileMode(perm))
	}
	return ""
}

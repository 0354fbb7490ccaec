package config

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
	if err := validateAccounts(accounts, c.SMPP.AccountsFile); err != nil {
		return nil, err
	}
	return accounts, nil
}

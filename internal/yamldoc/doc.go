// Package yamldoc holds what the gateway's YAML files (the accounts file,
// the HLR rules file) share beyond the decoder: each is one document, and
// a later one is refused rather than ignored.
package yamldoc

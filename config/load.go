package config

// Options carries what the command line and the environment add to a graph's
// own files.
type Options struct {
	// VarArgs holds the -var and -var-file arguments in command-line order;
	// a later value for the same variable wins, as in Terraform.
	VarArgs []VarArg
	// Env is the process environment in os.Environ form. DGE_VAR_<name>
	// values and the env() function read it; nil reads nothing.
	Env []string
}

// VarArg is one -var or -var-file argument. Exactly one field is set.
type VarArg struct {
	Raw  string // "name=value" from -var
	File string // path from -var-file
}

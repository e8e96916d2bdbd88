# mk/demo.mk - `make demo` and the beta sweep; included by the Makefile.

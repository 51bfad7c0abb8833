# contrib: see Makefile.am

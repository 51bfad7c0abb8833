# tests/unit: see Makefile.am

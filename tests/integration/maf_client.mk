# tests/integration/maf_client.mk: the MAF client (Entity B side of Key Retrieval, security/maf_*.c)
# driven through saef-mafget against a running saef-mafd on loopback, with keys registered by
# saef-keyreg.
TESTS += tests/integration/maf_client.sh
EXTRA_DIST += tests/integration/maf_client.sh

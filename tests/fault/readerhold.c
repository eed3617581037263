/*
 * readerhold.c - a process that opens the broker's LMDB environment and
 * holds one read transaction open until it is killed (TESTPLAN D7).
 *
 * While the transaction is open LMDB cannot reuse any page freed after it
 * began, so data.mdb grows under churn; killed with SIGKILL, the process
 * leaves its reader slot behind, still pinning those pages, until the
 * broker's mdb_reader_check clears it. It only reads: no page is written.
 *
 * usage: readerhold DATA_DIR READY_FILE
 * Creates READY_FILE (holding the snapshot's transaction id) once the read
 * transaction is open, then sleeps; exits 1 if it cannot get there.
 */
#include <stdio.h>
#include <unistd.h>

#include <lmdb.h>

int
main(int argc, char **argv)
{
	MDB_env *env;
	MDB_txn *txn;
	FILE *fp;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: readerhold DATA_DIR READY_FILE\n");
		return 2;
	}
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, 32)) != 0 ||
	    (rc = mdb_env_open(env, argv[1], MDB_RDONLY, 0600)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0) {
		fprintf(stderr, "readerhold: %s: %s\n", argv[1],
		    mdb_strerror(rc));
		return 1;
	}
	if ((fp = fopen(argv[2], "w")) == NULL ||
	    fprintf(fp, "%zu\n", mdb_txn_id(txn)) < 0 || fclose(fp) != 0) {
		perror(argv[2]);
		return 1;
	}
	for (;;)
		pause();
}

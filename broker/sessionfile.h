/*
 * sessionfile.h - publishes the live sessions for `batonctl sessions` in
 * DATA/sessions (format and why a file: state/sessionlist.h).
 */
#ifndef BATON_SESSIONFILE_H
#define BATON_SESSIONFILE_H

struct broker;
struct sessionfile;

/* Writes the first snapshot and starts the once-a-second check; NULL on failure (logged). */
struct sessionfile *sessionfile_start(struct broker *b);

/* Stops it and removes the file (a clean stop). NULL is fine. */
void	sessionfile_stop(struct sessionfile *sf);

#endif

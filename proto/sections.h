/*
 * sections.h - the dataset's sections as a bit set.
 *
 * Sections are the fields of baton.v1.Handover, named as in baton.proto;
 * policy, redaction and the audit log speak of them through this module so
 * there is one list, taken from the generated descriptor.
 */
#ifndef BATON_SECTIONS_H
#define BATON_SECTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "baton.pb-c.h"

typedef uint32_t section_mask;

#define SECTION_COUNT	8
#define SECTIONS_ALL	((section_mask)((1u << SECTION_COUNT) - 1))

/* Number of sections, and the name of section i (0-based, proto order). */
size_t		 sections_count(void);
const char	*sections_name(size_t i);

/* Bit for a section name, or 0 when the name is not a section. */
section_mask	 sections_bit(const char *name);

/* Which sections are present (non-NULL) in h. */
section_mask	 sections_present(const Baton__V1__Handover *h);

/*
 * Removes (frees and clears) every present section not in allowed.
 * Returns the mask of sections removed.
 */
section_mask	 sections_redact(Baton__V1__Handover *h, section_mask allowed);

/*
 * Writes the names in mask, comma-separated, in proto order, into buf.
 * Returns buf. An empty mask gives "".
 */
char		*sections_format(section_mask mask, char *buf, size_t len);

#endif

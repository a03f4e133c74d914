/* SPDX-License-Identifier: Apache-2.0 */
/* Semantic versions (MAJOR.MINOR.PATCH[-prerelease], ordered as semver 2.0)
 * and version constraints such as ">=1.0.0 <2.0.0". */
#ifndef UPGR_VERSION_H
#define UPGR_VERSION_H

#include <stdbool.h>
#include <stddef.h>

#define SEMVER_PRE_MAX 64

struct semver {
	unsigned long major, minor, patch;
	char pre[SEMVER_PRE_MAX];   /* "" for a release */
};

/* Parse s strictly (no leading zeros, no build metadata, no 'v' prefix).
 * On failure returns -1 and, if why is not NULL, a reason in why. */
int semver_parse(const char *s, struct semver *v, char *why, size_t whylen);
/* <0, 0, >0 as semver precedence orders a and b. */
int semver_cmp(const struct semver *a, const struct semver *b);
/* Compare two version strings that both parse; unparsable sorts lowest. */
int semver_cmp_str(const char *a, const char *b);

enum vop { VOP_EQ, VOP_LT, VOP_LE, VOP_GT, VOP_GE };

#define VCONSTRAINT_MAX 8

/* A conjunction of comparisons, space separated: ">=1.0.0 <2.0.0". */
struct vconstraint {
	size_t n;
	struct { enum vop op; struct semver v; } term[VCONSTRAINT_MAX];
};

int vconstraint_parse(const char *s, struct vconstraint *c, char *why, size_t whylen);
bool vconstraint_match(const struct vconstraint *c, const struct semver *v);

#endif

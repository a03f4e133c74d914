/* SPDX-License-Identifier: Apache-2.0 */
/* The installed manifest as manifest_parse left it, kept beside it.
 *
 * Every upgrade parses the installed manifest again (the tree scan, the
 * plan), and on a 20,000-file release that YAML parse is the largest
 * piece of work the scan thread has. So when an upgrade commits, the
 * manifest it parsed is written, in a binary form of its own, to
 * STATE/apps/APP/manifest.parsed, and state_installed reads that instead
 * of parsing again, as apt keeps pkgcache.bin beside its package lists.
 *
 * It is a cache and nothing more: it names the sha256 of the YAML bytes it
 * was parsed from, and it is used only for exactly those bytes (a
 * rollback, a recovery or an older upgr that puts other bytes in
 * manifest.yaml makes it stale, and stale is unused); its own sha256 ends
 * it, so a torn or corrupted file is unused too, and so is one written
 * by an upgr whose manifest structs differ. Unused means parsed, as
 * before. The file is as trusted as manifest.yaml beside it: both are
 * in the state directory, which only upgr's user can write.
 *
 *   "upgr-mcache 1\n"
 *   u32 x 4    sizeof struct manifest, mfile, precond, mcmd (this binary's)
 *   32 bytes   sha256 of the YAML bytes
 *   u64        length of the body
 *   body       every field manifest_release frees, and the scalars beside
 *              them, in manifest.h's order (strings as u32 length, or
 *              0xffffffff for none, and bytes; integers little-endian)
 *   32 bytes   sha256 of everything before it
 */
#ifndef UPGR_MCACHE_H
#define UPGR_MCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"
#include "manifest.h"

#define MCACHE_NAME "manifest.parsed"

/* Write m, parsed from bytes of sha256 src, to path (atomically, 0600). */
int mcache_write(const char *path, const uint8_t src[SHA256_LEN], const struct manifest *m,
		 struct err *e);

/* m from path when it holds a whole, intact cache of this binary's for
 * the bytes of sha256 src: true; false (m zeroed) for anything else. */
bool mcache_read(const char *path, const uint8_t src[SHA256_LEN], struct manifest *m);

#endif

/* phq_posix.h - map a file read-only for phq_open (POSIX mmap). Optional helper:
 * phq.c itself never touches files. */
#ifndef PHQ_POSIX_H
#define PHQ_POSIX_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct phq_mapping {
    const void *data; /* the file's bytes (a static empty buffer for an empty file) */
    size_t len;
    int mapped_;      /* 1 when data must be munmap'ed */
} phq_mapping;

/* Map `path` read-only (MAP_PRIVATE). Returns 0, or -1 with errno set: EINVAL when the
 * path names no regular file (a FIFO, socket, device or directory: refused before any read
 * and without blocking, spec 10). The mapping stays valid after the file is replaced or
 * removed (spec 10.4). */
int phq_map_file(const char *path, phq_mapping *map);
void phq_unmap_file(phq_mapping *map);

#ifdef __cplusplus
}
#endif
#endif

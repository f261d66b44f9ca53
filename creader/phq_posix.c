/* phq_posix.c - mmap helper for phq (see phq_posix.h). */
#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200112L
#undef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200112L
#endif
#include "phq_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const unsigned char phq_empty_file[1] = {0};

int phq_map_file(const char *path, phq_mapping *map)
{
    struct stat st;
    int fd, saved;
    void *p;
    map->data = NULL;
    map->len = 0;
    map->mapped_ = 0;
    /* spec 10: refuse what is not a regular file before reading, without blocking: an open
     * of a FIFO without a writer would wait forever without O_NONBLOCK (O_NOCTTY: a
     * terminal named as the model does not become the controlling one) */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return -1;
    if (fstat(fd, &st) != 0) goto fail;
    if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        goto fail;
    }
    if ((uintmax_t)st.st_size > (uintmax_t)SIZE_MAX) {
        errno = EFBIG;
        goto fail;
    }
    if (st.st_size == 0) {
        close(fd);
        map->data = phq_empty_file;
        return 0;
    }
    p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) goto fail;
    close(fd);
    map->data = p;
    map->len = (size_t)st.st_size;
    map->mapped_ = 1;
    return 0;
fail:
    saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

void phq_unmap_file(phq_mapping *map)
{
    if (map->mapped_) munmap((void *)(uintptr_t)map->data, map->len);
    map->data = NULL;
    map->len = 0;
    map->mapped_ = 0;
}

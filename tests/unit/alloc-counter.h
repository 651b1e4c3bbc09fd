/* Counts every malloc/calloc/realloc of the test process, for the tests
 * proving that a path does not allocate. Include in ONE translation unit
 * (the test's), which then interposes malloc (or, under AddressSanitizer,
 * which owns malloc, installs its allocation hook).
 *
 * GLib 2.74 cannot swap g_malloc's allocator, so the count is taken below
 * it: the executable's definitions interpose over libc's (libglib's calls
 * included) and forward to glibc's __libc_* entry points. Check allocates
 * even in passing asserts: keep its calls out of a counted window. */
#pragma once

#include <glib.h>
#include <stdlib.h>

static guint64 allocations;

#if defined(__SANITIZE_ADDRESS__)
/* From libasan (sanitizer/allocator_interface.h, not shipped with gcc-12). */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));

static void
count_malloc(const volatile void *ptr, size_t size)
{
  __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
}

static void
ignore_free(const volatile void *ptr)
{
}

static void
install_counter(void)
{
  __sanitizer_install_malloc_and_free_hooks(count_malloc, ignore_free);
}
#else
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);

void *
malloc(size_t size)
{
  __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
  return __libc_malloc(size);
}

void *
calloc(size_t n, size_t size)
{
  __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
  return __libc_calloc(n, size);
}

void *
realloc(void *ptr, size_t size)
{
  __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
  return __libc_realloc(ptr, size);
}

static void
install_counter(void)
{
}
#endif

static inline guint64
allocation_count(void)
{
  return __atomic_load_n(&allocations, __ATOMIC_RELAXED);
}

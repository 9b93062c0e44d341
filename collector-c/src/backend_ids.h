/* Which GGML backend a ggml_backend_t is: each backend defines a fixed
 * 16-byte guid (ggml_backend_*_guid() in its source); this is the table. */
#ifndef PI_BACKEND_IDS_H
#define PI_BACKEND_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PI_GUID_BYTES 16

extern const uint8_t pi_backend__cpu_guid[PI_GUID_BYTES];

/* The backend's name ("CPU", "CUDA", ...), or NULL when the guid is not in
 * the table. */
const char *pi_backend__known_name(const uint8_t guid[PI_GUID_BYTES]);

/* The name to record: the table's, "unknown:<32 hex digits>" otherwise,
 * "unread" when the guid could not be read (read false). */
void pi_backend__name(const uint8_t guid[PI_GUID_BYTES], bool read, char *buf, size_t len);

#endif

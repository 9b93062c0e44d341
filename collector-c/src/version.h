/* Version and build target of the collector, named in --version and in
 * every trace's SessionInfo. */
#ifndef PI_VERSION_H
#define PI_VERSION_H

#define PI_VERSION "0.1.0"
#ifndef PI_BUILD_TARGET
#define PI_BUILD_TARGET "unknown"
#endif
#define PI_PROTOCOL_VERSION 1

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * log.h — diagnostics to stderr (never stdout: stdout carries the stream).
 *
 * Owns the log level and the line format. `*_errno` variants append
 * strerror and return the negative errno, so callers can
 * `return log_error_errno(r, "...")`. Library-ish modules log at debug only;
 * their callers decide what a user sees.
 *
 * Stage core/: includes no other stage; does not know events, rules or the kernel side.
 */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

void log_set_level(enum log_level lvl);
void log_set_prefix(const char *prefix);
__attribute__((format(printf, 3, 4))) int log_msg(enum log_level lvl, int err, const char *fmt,
						  ...);
/* libbpf's print callback, routed here (warnings and above). */
int log_libbpf(int level, const char *fmt, va_list ap);

#define log_debug(...)		log_msg(LOG_LVL_DEBUG, 0, __VA_ARGS__)
#define log_info(...)		log_msg(LOG_LVL_INFO, 0, __VA_ARGS__)
#define log_warn(...)		log_msg(LOG_LVL_WARN, 0, __VA_ARGS__)
#define log_error(...)		log_msg(LOG_LVL_ERROR, 0, __VA_ARGS__)
#define log_warn_errno(e, ...)	log_msg(LOG_LVL_WARN, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_msg(LOG_LVL_ERROR, (e), __VA_ARGS__)

#endif

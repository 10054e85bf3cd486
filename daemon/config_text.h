/*
 * The configuration file as text: read whole, and searched for what
 * libconfig does not tell (see config_text.c).
 */
#ifndef HELLOD_CONFIG_TEXT_H
#define HELLOD_CONFIG_TEXT_H

#include <stdbool.h>
#include <stddef.h>

char *config_text_read(const char *path, char *why, size_t whylen);
bool config_text_int(const char *text, int line, const char *key,
    long long *value, bool *overflow);
void
config_text_word_at(const char *text, int line, char *word, size_t wordlen);
int config_text_include_line(const char *text);

#endif

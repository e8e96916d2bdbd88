/*
 * unit.h - what every unit test file includes: Check and the prototypes
 * of all <name>_suite() functions (suites.h is generated from the names
 * of the tests/unit/check_<name>.c files).
 */
#ifndef UNIT_H
#define UNIT_H

#include <check.h>

#define SUITE(name) Suite *name##_suite(void);
#include "suites.h"
#undef SUITE

#endif

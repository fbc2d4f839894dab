# SPDX-License-Identifier: LGPL-2.1-or-later
"""The numerical-median reporting plugin (libocr's median rules) on the Python SDK."""

"""The worked example from pytest: ``python -m pytest test_large_folio_cow.py``
in this directory.  The ``wpdiff_check`` fixture comes with wpdiff (its
pytest plugin); it returns the text report, or fails the test with it."""

import pytest


def test_the_change_keeps_every_guarantee_of_its_base(wpdiff_check):
    assert wpdiff_check("large_folio_cow:do_wp_page", base="v6.15").endswith("verdict: nothing unexpected\n")


def test_skipping_the_maybe_shared_test_is_refused(wpdiff_check):
    with pytest.raises(pytest.fail.Exception, match="no-missed-cow"):
        wpdiff_check("large_folio_cow:skip_maybe_shared", base="v6.15")

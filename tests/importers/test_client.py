"""The vendor HTTP client: 429s waited out as the vendor says, a bounded number of times; the key
never in an error; no host but the vendor's followed."""

import pytest

from importers.client import MAX_RETRIES, Client, VendorError, next_link_pages, retry_delay

from .fakes import FakeVendor

KEY = "GenieKey secret-0000111122223333"


@pytest.fixture(autouse=True)
def _private(settings):
    settings.ALLOW_PRIVATE_TARGETS = True


def test_the_delay_comes_from_the_vendors_headers_and_is_bounded():
    assert retry_delay({"Retry-After": "12"}) == 12
    assert retry_delay({"ratelimit-reset": "3"}) == 3
    assert retry_delay({"X-RateLimit-Reset": "1000000050"}, now=1000000000) == 50  # an epoch time
    assert retry_delay({"Retry-After": "86400"}) == 60
    assert retry_delay({}) == 1.0


def test_a_vendor_that_keeps_answering_429_is_given_up_on(settings):
    sleeps = []
    with FakeVendor(retry_after="5") as fake:
        fake.route(r"/v2/users", lambda m, q: {"data": []})
        client = Client(fake.url, {"Authorization": KEY}, sleep=sleeps.append)
        fake._thrown = _NeverThrown()  # every request is throttled
        fake.throttled.add("/v2/users")
        with pytest.raises(VendorError) as error:
            client.get("v2/users")
    assert sleeps == [5.0] * MAX_RETRIES and "rate limited" in str(error.value)
    assert KEY not in str(error.value) and len(fake.requests) == MAX_RETRIES + 1


def test_a_next_link_to_another_host_is_refused(settings):
    with FakeVendor() as fake:
        fake.route(r"/v2/users", lambda m, q: {"data": [{"id": 1}], "paging": {"next": "http://169.254.169.254/x"}})
        client = Client(fake.url, {"Authorization": KEY})
        with pytest.raises(VendorError) as error:
            list(next_link_pages(client, "v2/users"))
    assert "another host" in str(error.value)


def test_a_refused_key_says_which_permission_to_check():
    with FakeVendor() as fake:
        def refuse(m, q):
            raise AssertionError  # never reached: answered below
        fake.route(r"/nothing", refuse)
        client = Client(fake.url + "/nothing-here", {"Authorization": KEY})
        with pytest.raises(VendorError) as error:
            client.get("v2/users")
    assert "404" in str(error.value) and KEY not in str(error.value)


class _NeverThrown(set):
    def __contains__(self, item):
        return False

    def add(self, item):
        pass

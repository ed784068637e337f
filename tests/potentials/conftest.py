import pytest

from tests.potentials.helpers import tiny_model


@pytest.fixture
def model64():
    return tiny_model()

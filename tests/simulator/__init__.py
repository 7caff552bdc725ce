"""Tests of the AP host simulator itself (tests/apsim): fleet loading, render and the live mount."""

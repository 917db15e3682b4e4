"""Consent: signed, revocable grants; the one policy gate; the hash-chained audit log.

Live enrolment (``verified`` grants) is not built yet: today only ``attested`` grants can be
issued, and the policy lets those drive only the built-in tiny test models.
"""

"""What likeness's tests and benchmarks build with, shipped with the package (as diffusers ships
its testing utilities): photos of people (``photos``), prepared libraries (``libraries``),
rendered enrolment clips and attack clips (``clips``), tiny and full-size model components
(``models``), a served app on loopback (``server``), a second face backend (``backends``)...
None of it is used by likeness itself; some of it needs the test extras (``pip install
likeness[dev]``) and the faces-dev photos.
"""

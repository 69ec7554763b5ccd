"""The deploy path: open the lock once into a request (:mod:`.request`), verify every package
into a private folder (:mod:`.verifying`), then install in one transaction (:mod:`.apply`,
:mod:`.transaction`); :mod:`.pipeline` holds the entry points verify, download, install and
audit."""

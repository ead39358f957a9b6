module craft

go 1.22

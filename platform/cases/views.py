from django.shortcuts import render


def library(request):
    return render(request, "cases/library.html")


def case_detail(request, public_id):
    return render(request, "cases/detail.html")
